package bijotel

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ProviderUsage sums the span entries of one provider and instrumentation.
type ProviderUsage struct {
	// Provider is gen_ai.provider.name, or the older gen_ai.system, or ""
	// when the span has neither.
	Provider string `json:"provider"`
	// Instrumentation is the bijotel.instrumentation attribute, or else the
	// instrumentation scope name of the span, or "" when the body has none
	// (as in bodies written by Python BIJOTEL).
	Instrumentation string `json:"instrumentation"`
	Spans           int64  `json:"spans"`
	InputTokens     int64  `json:"input_tokens"`
	OutputTokens    int64  `json:"output_tokens"`
	// LastSeenNS is the largest timestamp_ns of the spans.
	LastSeenNS int64 `json:"last_seen_ns"`
}

// ProviderUsage sums span entries with fromSeq <= seq <= toSeq by provider
// and instrumentation, reading the sealed bodies with SQLite's JSON
// functions. It does not verify the entries. Callers that keep totals up to
// date pass the seq after the last one they summed.
func (c *Chain) ProviderUsage(ctx context.Context, fromSeq, toSeq int64) ([]ProviderUsage, error) {
	rows, err := c.db.QueryContext(ctx, `
		SELECT provider, instrumentation, count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), max(timestamp_ns)
		FROM (
			SELECT
				coalesce(json_extract(canonical_body, '$.attributes."gen_ai.provider.name"'),
				         json_extract(canonical_body, '$.attributes."gen_ai.system"'), '') AS provider,
				coalesce(json_extract(canonical_body, '$.attributes."bijotel.instrumentation"'),
				         json_extract(canonical_body, '$.scope.name'), '') AS instrumentation,
				json_extract(canonical_body, '$.attributes."gen_ai.usage.input_tokens"') AS input_tokens,
				json_extract(canonical_body, '$.attributes."gen_ai.usage.output_tokens"') AS output_tokens,
				timestamp_ns
			FROM chain
			WHERE seq BETWEEN ? AND ? AND span_kind IS NOT NULL AND json_valid(canonical_body)
		)
		GROUP BY provider, instrumentation
		ORDER BY provider, instrumentation`, fromSeq, toSeq)
	if err != nil {
		return nil, fmt.Errorf("sum provider usage in %s: %w", c.path, err)
	}
	defer rows.Close()
	var out []ProviderUsage
	for rows.Next() {
		var u ProviderUsage
		var provider, instrumentation any
		if err := rows.Scan(&provider, &instrumentation, &u.Spans, &u.InputTokens, &u.OutputTokens, &u.LastSeenNS); err != nil {
			return nil, fmt.Errorf("sum provider usage in %s: %w", c.path, err)
		}
		u.Provider, u.Instrumentation = textOf(provider), textOf(instrumentation)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sum provider usage in %s: %w", c.path, err)
	}
	return out, nil
}

// textOf renders a JSON value that SQLite returned as text; a non-string
// value such as a number becomes its decimal form.
func textOf(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	default:
		return fmt.Sprint(v)
	}
}

// ListOptions selects entries for List.
type ListOptions struct {
	// Limit is the largest number of entries returned; 0 means 50.
	Limit int
	// Offset skips that many of the newest matching entries.
	Offset int
	// Since and Until bound timestamp_ns to [Since, Until) when not zero.
	Since, Until time.Time
}

// List returns entries newest first. It does not verify them.
func (c *Chain) List(ctx context.Context, opts ListOptions) ([]Entry, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = 50
	}
	since, until := int64(0), int64(1<<63-1)
	if !opts.Since.IsZero() {
		since = opts.Since.UnixNano()
	}
	if !opts.Until.IsZero() {
		until = opts.Until.UnixNano()
	}
	rows, err := c.db.QueryContext(ctx, `SELECT `+entryColumns+` FROM chain
		WHERE timestamp_ns >= ? AND timestamp_ns < ? ORDER BY seq DESC LIMIT ? OFFSET ?`, since, until, limit, opts.Offset)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", c.path, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := scanEntry(rows, &e); err != nil {
			return nil, fmt.Errorf("list %s: %w", c.path, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Stats describes the chain as stored.
type Stats struct {
	Bounds
	// Head is the hmac_hash of the newest entry, or GenesisHash.
	Head string `json:"head"`
	// SpanEntries counts rows with a span kind; EventEntries the others.
	SpanEntries  int64 `json:"span_entries"`
	EventEntries int64 `json:"event_entries"`
	// FirstTimestampNS and LastTimestampNS bound timestamp_ns, 0 when empty.
	FirstTimestampNS int64 `json:"first_timestamp_ns"`
	LastTimestampNS  int64 `json:"last_timestamp_ns"`
}

// Stats returns counts and bounds of the chain. It does not verify it.
func (c *Chain) Stats(ctx context.Context) (Stats, error) {
	b, err := c.Bounds(ctx)
	if err != nil {
		return Stats{}, err
	}
	s := Stats{Bounds: b}
	if s.Head, err = c.Head(ctx); err != nil {
		return Stats{}, err
	}
	var first, last sql.NullInt64
	err = c.db.QueryRowContext(ctx, `SELECT count(span_kind), min(timestamp_ns), max(timestamp_ns) FROM chain`).Scan(&s.SpanEntries, &first, &last)
	if err != nil {
		return Stats{}, fmt.Errorf("read stats of %s: %w", c.path, err)
	}
	s.EventEntries = b.Count - s.SpanEntries
	s.FirstTimestampNS, s.LastTimestampNS = first.Int64, last.Int64
	return s, nil
}
