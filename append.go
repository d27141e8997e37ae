package bijotel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/bijotel/bijotel-go/jcs"
)

// Zero ids stored in the id columns of non-span entries, as Python BIJOTEL
// stores them.
const (
	zeroTraceID = "00000000000000000000000000000000"
	zeroSpanID  = "0000000000000000"
)

// Record is an entry before it is linked into the chain: the columns that
// Append stores besides seq and the three chain hashes.
type Record struct {
	// TimestampNS is the entry time in nanoseconds since the Unix epoch: the
	// end time for a span.
	TimestampNS int64
	TraceID     string
	SpanID      string
	SpanName    string
	// SpanKind is stored as NULL when empty.
	SpanKind string
	// Body is the canonical_body, sealed as it is.
	Body []byte
	// SemanticHash is stored as NULL when empty.
	SemanticHash string
}

// SpanRecord returns the record that seals s.
func SpanRecord(s *Span) (Record, error) {
	body, err := EncodeSpan(s)
	if err != nil {
		return Record{}, err
	}
	kind := s.Kind
	if kind == "" {
		kind = defaultKindName
	}
	return Record{
		TimestampNS:  clampNanos(s.EndTimeUnixNano),
		TraceID:      s.TraceID,
		SpanID:       s.SpanID,
		SpanName:     s.Name,
		SpanKind:     kind,
		Body:         body.Canonical,
		SemanticHash: body.SemanticHash,
	}, nil
}

// EventRecord returns the record of a non-span entry, the counterpart of
// Python BIJOTEL's append_event: the body is the canonical JSON of fields,
// stored under span_name name with zero trace and span ids and no kind.
// Values outside the RFC 8785 domain are sealed in the tagged form that
// EncodeSpan uses; values of other Go types are converted through
// encoding/json first.
func EventRecord(name string, fields map[string]any, at time.Time) (Record, error) {
	if name == "" {
		return Record{}, errors.New("event name is empty: pass a name such as audit.event")
	}
	body, err := jcs.Marshal(sanitizeValue(fields))
	if err != nil {
		return Record{}, fmt.Errorf("encode event %q: %w", name, err)
	}
	return Record{
		TimestampNS: at.UnixNano(),
		TraceID:     zeroTraceID,
		SpanID:      zeroSpanID,
		SpanName:    name,
		Body:        body,
	}, nil
}

func clampNanos(ns uint64) int64 {
	// NOTE: timestamp_ns is a signed 64-bit column; times after the year 2262
	// are stored as the largest value, while the body keeps the exact time.
	if ns > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(ns)
}

// Appended describes a committed append.
type Appended struct {
	FirstSeq int64
	LastSeq  int64
	// Head is the hmac_hash of the last appended entry.
	Head string
}

// Append links records into the chain in order and commits them in one
// transaction. The transaction starts with BEGIN IMMEDIATE and reads the
// chain head inside it, so appends from other goroutines and processes,
// Python ones included, never fork the chain. It blocks while another writer
// holds the lock, for up to BusyTimeoutMillis, then fails with an error
// wrapping ErrBusy. On any error nothing was appended.
func (c *Chain) Append(ctx context.Context, records []Record) (Appended, error) {
	if c.readOnly {
		return Appended{}, ErrReadOnly
	}
	if len(records) == 0 {
		return Appended{}, nil
	}

	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return Appended{}, fmt.Errorf("append to %s: begin: %w", c.path, mapBusy(err))
	}
	defer tx.Rollback()

	head, err := readHead(ctx, tx)
	if err != nil {
		return Appended{}, fmt.Errorf("append to %s: read head: %w", c.path, mapBusy(err))
	}
	// Link the records first, then insert them several rows per statement:
	// each statement costs a round through database/sql and the driver.
	l := newLinker(c.secret)
	linked := make([]linkedRecord, len(records))
	for i := range records {
		canonicalHash := CanonicalHash(records[i].Body)
		mac := l.link(head, canonicalHash)
		linked[i] = linkedRecord{Record: &records[i], canonicalHash: canonicalHash, prevHash: head, hmacHash: mac}
		head = mac
	}
	var out Appended
	for start := 0; start < len(linked); start += rowsPerInsert {
		chunk := linked[start:min(start+rowsPerInsert, len(linked))]
		args := make([]any, 0, len(chunk)*10)
		for _, r := range chunk {
			args = append(args, r.TimestampNS, r.TraceID, r.SpanID, r.SpanName, nullString(r.SpanKind),
				r.Body, r.canonicalHash, r.prevHash, r.hmacHash, nullString(r.SemanticHash))
		}
		res, err := tx.ExecContext(ctx, insertSQL(len(chunk)), args...)
		if err != nil {
			return Appended{}, fmt.Errorf("append to %s: insert: %w", c.path, mapBusy(err))
		}
		if start == 0 {
			// The write lock is held, so the rows get consecutive seqs.
			last, err := res.LastInsertId()
			if err != nil {
				return Appended{}, fmt.Errorf("append to %s: %w", c.path, err)
			}
			out.FirstSeq = last - int64(len(chunk)) + 1
		}
	}
	leaves := make([]leafRow, len(linked))
	for i, r := range linked {
		seq := out.FirstSeq + int64(i)
		leaves[i] = leafRow{seq: seq, hash: LeafHash(&Entry{
			Seq: seq, TimestampNS: r.TimestampNS, TraceID: r.TraceID, SpanID: r.SpanID, SpanName: r.SpanName,
			SpanKind: r.SpanKind, CanonicalHash: r.canonicalHash, PrevHash: r.prevHash, HMACHash: r.hmacHash, SemanticBodyHash: r.SemanticHash,
		})}
	}
	// The Merkle tree grows in the same transaction; see merkle.go.
	tree := c.extendTree(ctx, tx, leaves)
	if err := tx.Commit(); err != nil {
		return Appended{}, fmt.Errorf("append to %s: commit: %w", c.path, mapBusy(err))
	}
	c.tree.keep(tree)
	out.LastSeq = out.FirstSeq + int64(len(records)) - 1
	out.Head = head
	return out, nil
}

// rowsPerInsert is how many rows one INSERT statement writes; ten bound
// parameters each stay far below SQLite's limit of 32766.
const rowsPerInsert = 64

// linkedRecord is a record with its chain hashes.
type linkedRecord struct {
	*Record
	canonicalHash, prevHash, hmacHash string
}

// insertSQL returns the INSERT statement for n rows.
func insertSQL(n int) string {
	return `INSERT INTO chain (timestamp_ns, trace_id, span_id, span_name, span_kind,
		canonical_body, canonical_hash, prev_hash, hmac_hash, semantic_body_hash) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ")
}

// AppendEvent seals one non-span entry with the current time. See
// EventRecord for the body.
func (c *Chain) AppendEvent(ctx context.Context, name string, fields map[string]any) (Appended, error) {
	r, err := EventRecord(name, fields, time.Now())
	if err != nil {
		return Appended{}, err
	}
	return c.Append(ctx, []Record{r})
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readHead(ctx context.Context, q queryRower) (string, error) {
	var head string
	err := q.QueryRowContext(ctx, `SELECT hmac_hash FROM chain ORDER BY seq DESC LIMIT 1`).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return GenesisHash, nil
	}
	return head, err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
