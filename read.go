package bijotel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Entry is one row of the chain table as stored. Reading an entry checks
// nothing; Verify does.
type Entry struct {
	Seq         int64
	TimestampNS int64
	TraceID     string
	SpanID      string
	SpanName    string
	// SpanKind is empty when the column is NULL, as for non-span entries.
	SpanKind      string
	CanonicalBody []byte
	CanonicalHash string
	PrevHash      string
	HMACHash      string
	// SemanticBodyHash is empty when the column is NULL.
	SemanticBodyHash string
}

const entryColumns = `seq, timestamp_ns, trace_id, span_id, span_name, span_kind, canonical_body,
	canonical_hash, prev_hash, hmac_hash, semantic_body_hash`

type rowScanner interface {
	Scan(dest ...any) error
}

func scanEntry(s rowScanner, e *Entry) error {
	var kind, semantic sql.NullString
	var body []byte
	if err := s.Scan(&e.Seq, &e.TimestampNS, &e.TraceID, &e.SpanID, &e.SpanName, &kind, &body,
		&e.CanonicalHash, &e.PrevHash, &e.HMACHash, &semantic); err != nil {
		return err
	}
	e.SpanKind = kind.String
	e.SemanticBodyHash = semantic.String
	// The driver may reuse the scanned buffer; keep a copy. A body stored as
	// TEXT, as some writers do, scans into the same bytes.
	e.CanonicalBody = append(e.CanonicalBody[:0], body...)
	return nil
}

// Bounds describes the seq range present in the chain table.
type Bounds struct {
	// Count is the number of rows.
	Count int64 `json:"entries"`
	// First and Last are the smallest and largest seq, or 0 when empty.
	First int64 `json:"first_seq"`
	Last  int64 `json:"last_seq"`
	// Sequence is the AUTOINCREMENT counter in sqlite_sequence: the largest
	// seq ever assigned, even to rows deleted since. It is 0 when the table
	// has no counter row, as in chains created without AUTOINCREMENT.
	Sequence int64 `json:"sqlite_sequence"`
}

// Bounds returns the seq range of the chain.
func (c *Chain) Bounds(ctx context.Context) (Bounds, error) {
	var b Bounds
	var first, last sql.NullInt64
	err := c.db.QueryRowContext(ctx, `SELECT count(*), min(seq), max(seq) FROM chain`).Scan(&b.Count, &first, &last)
	if err != nil {
		return Bounds{}, fmt.Errorf("read bounds of %s: %w", c.path, err)
	}
	b.First, b.Last = first.Int64, last.Int64

	var hasSequence int
	if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`).Scan(&hasSequence); err != nil {
		return Bounds{}, fmt.Errorf("read bounds of %s: %w", c.path, err)
	}
	if hasSequence > 0 {
		err := c.db.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'chain'`).Scan(&b.Sequence)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return Bounds{}, fmt.Errorf("read sqlite_sequence of %s: %w", c.path, err)
		}
	}
	return b, nil
}

// Entry returns the entry with the given seq, or an error wrapping
// ErrNotFound.
func (c *Chain) Entry(ctx context.Context, seq int64) (*Entry, error) {
	row := c.db.QueryRowContext(ctx, `SELECT `+entryColumns+` FROM chain WHERE seq = ?`, seq)
	var e Entry
	if err := scanEntry(row, &e); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("seq %d: %w", seq, ErrNotFound)
		}
		return nil, fmt.Errorf("read seq %d of %s: %w", seq, c.path, err)
	}
	return &e, nil
}

// Head returns the hmac_hash of the newest entry, or GenesisHash when the
// chain is empty.
func (c *Chain) Head(ctx context.Context) (string, error) {
	h, err := readHead(ctx, c.db)
	if err != nil {
		return "", fmt.Errorf("read head of %s: %w", c.path, err)
	}
	return h, nil
}

// Scan calls fn for every entry with from <= seq <= to, in seq order, and
// stops at the first error fn returns. The Entry passed to fn is reused
// between calls, so fn must copy what it keeps. Memory use does not grow
// with the chain.
func (c *Chain) Scan(ctx context.Context, from, to int64, fn func(*Entry) error) error {
	rows, err := c.db.QueryContext(ctx, `SELECT `+entryColumns+` FROM chain WHERE seq BETWEEN ? AND ? ORDER BY seq`, from, to)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.path, err)
	}
	defer rows.Close()
	var e Entry
	for rows.Next() {
		if err := scanEntry(rows, &e); err != nil {
			return fmt.Errorf("read %s: %w", c.path, err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", c.path, err)
	}
	return nil
}

// SeqRangeForTime returns the smallest and largest seq of entries whose
// timestamp_ns lies in [fromNS, toNS). ok is false when there are none.
func (c *Chain) SeqRangeForTime(ctx context.Context, fromNS, toNS int64) (first, last int64, ok bool, err error) {
	var lo, hi sql.NullInt64
	err = c.db.QueryRowContext(ctx, `SELECT min(seq), max(seq) FROM chain WHERE timestamp_ns >= ? AND timestamp_ns < ?`, fromNS, toNS).Scan(&lo, &hi)
	if err != nil {
		return 0, 0, false, fmt.Errorf("read %s: %w", c.path, err)
	}
	return lo.Int64, hi.Int64, lo.Valid, nil
}
