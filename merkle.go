package bijotel

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"strings"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The Merkle tree is an RFC 6962 tree whose leaf i is the entry with seq
// i+1. Every complete node of the tree is stored in merkle_node, so an
// inclusion or consistency proof at any size reads about 2·log2(size) rows
// by primary key and hashes only the few nodes that are incomplete at that
// size. A node's id is its position in the order the nodes are completed
// (see nodeID): the nodes one append adds have consecutive ids and share
// one or two table pages, which keeps the tree's cost per commit low.
// Python BIJOTEL ignores the table.
const merkleSchema = `
CREATE TABLE IF NOT EXISTS merkle_node (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
`

// storedBefore returns how many nodes a tree of n leaves stores: n leaves,
// n/2 nodes one level up, n/4 above that, and so on, which adds up to
// 2n - popcount(n).
func storedBefore(n uint64) int64 {
	return int64(2*n) - int64(bits.OnesCount64(n))
}

// nodeID returns the id in merkle_node of the node at level and index. The
// node is completed when leaf (index+1)·2^level - 1 is appended, right
// after that leaf and the level - 1 nodes below it on the same path.
func nodeID(level uint, index uint64) int64 {
	return storedBefore((index+1)<<level-1) + int64(level)
}

// leavesFor returns the tree size n whose complete nodes number stored,
// and false when no size has exactly that many.
func leavesFor(stored int64) (uint64, bool) {
	// 2n - popcount(n) = stored, and popcount(n) <= 64, so n lies within 32
	// of stored/2; storedBefore grows with n.
	lo := uint64(max(stored/2, 0))
	for n := lo; n <= lo+33; n++ {
		switch s := storedBefore(n); {
		case s == stored:
			return n, true
		case s > stored:
			return 0, false
		}
	}
	return 0, false
}

// LeafDomain starts the leaf data of every entry, so that a leaf of this tree
// can never be read as data of another kind.
const LeafDomain = "bijotel-leaf-v1\n"

// TreeHashSize is the length in bytes of every hash in the Merkle tree.
const TreeHashSize = 32

// ErrTreeDamaged is wrapped by errors about a Merkle tree table that cannot
// be extended: a node it needs is missing, or the chain has a gap at the
// seq that the tree needs next.
var ErrTreeDamaged = errors.New("merkle tree cannot be extended")

// treeHasher is the RFC 6962 hasher over SHA-256.
var treeHasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: treeHasher.HashChildren}

// LeafData returns the bytes that stand for e in the Merkle tree: LeafDomain,
// seq and timestamp_ns as 8-byte big-endian integers, then trace_id,
// span_id, span_name, span_kind, canonical_hash, prev_hash, hmac_hash and
// semantic_body_hash, each as a 4-byte big-endian length and its bytes. A
// NULL column is encoded as the empty string. The body is bound through
// canonical_hash, so the leaf does not repeat it.
func LeafData(e *Entry) []byte {
	texts := [...]string{e.TraceID, e.SpanID, e.SpanName, e.SpanKind, e.CanonicalHash, e.PrevHash, e.HMACHash, e.SemanticBodyHash}
	n := len(LeafDomain) + 16
	for _, s := range texts {
		n += 4 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, LeafDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(e.TimestampNS))
	for _, s := range texts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// LeafHash returns the RFC 6962 leaf hash of e: SHA-256(0x00 ‖ LeafData(e)).
func LeafHash(e *Entry) []byte {
	return treeHasher.HashLeaf(LeafData(e))
}

// HashChildren returns the RFC 6962 hash of an interior node:
// SHA-256(0x01 ‖ left ‖ right).
func HashChildren(left, right []byte) []byte {
	return treeHasher.HashChildren(left, right)
}

// EmptyTreeRoot returns the root of a tree with no leaves: SHA-256 of no
// bytes.
func EmptyTreeRoot() []byte {
	return treeHasher.EmptyRoot()
}

// treeState caches the right edge of the tree (its compact range) between
// appends of one Chain, so that an append reads one row of merkle_node
// instead of up to 64.
type treeState struct {
	mu     sync.Mutex
	cached *compact.Range
	// disabled turns tree maintenance off; benchmarks use it to measure
	// what the tree costs.
	disabled bool
	// writable is set on a Chain from OpenForTree, which is read-only for
	// the chain table but writes the tree.
	writable bool
}

// frontier returns a copy of the cached range when it ends at size.
func (t *treeState) frontier(size uint64) *compact.Range {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cached == nil || t.cached.End() != size {
		return nil
	}
	return cloneRange(t.cached)
}

// keep caches r, the range of a committed tree. A nil r leaves the cache
// as it is.
func (t *treeState) keep(r *compact.Range) {
	if r == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cached = r
}

func (t *treeState) isDisabled() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.disabled
}

// cloneRange copies r. It returns nil if r cannot be copied, which makes
// the caller read the range from the database instead.
func cloneRange(r *compact.Range) *compact.Range {
	hashes := make([][]byte, len(r.Hashes()))
	copy(hashes, r.Hashes())
	c, err := rangeFactory.NewRange(r.Begin(), r.End(), hashes)
	if err != nil {
		return nil
	}
	return c
}

type execQueryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// extendTree adds the entries that the tree lacks to it, inside the append
// transaction tx, and returns the new right edge for the cache once tx
// commits. A failure is logged and rolled back to a savepoint, so the
// entries still commit: a tree that fell behind is caught up by the next
// append or by SyncTree, which returns the error.
func (c *Chain) extendTree(ctx context.Context, tx *sql.Tx, appended []leafRow) *compact.Range {
	if c.tree.isDisabled() {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SAVEPOINT merkle_extend`); err != nil {
		c.logger.ErrorContext(ctx, "merkle tree not extended", slog.String("path", c.path), slog.Any("error", err))
		return nil
	}
	r, err := c.extendTreeIn(ctx, tx, appended)
	if err != nil {
		if _, rbErr := tx.ExecContext(ctx, `ROLLBACK TO merkle_extend`); rbErr != nil {
			err = errors.Join(err, rbErr)
		}
		c.logger.ErrorContext(ctx, "merkle tree not extended; the entries are sealed and the tree will catch up on a later append or checkpoint",
			slog.String("path", c.path), slog.Any("error", err))
		r = nil
	}
	if _, err := tx.ExecContext(ctx, `RELEASE merkle_extend`); err != nil {
		c.logger.ErrorContext(ctx, "merkle tree savepoint not released", slog.String("path", c.path), slog.Any("error", err))
		return nil
	}
	return r
}

// leafBatch is how many rows extendTreeIn reads before it writes their
// nodes, which bounds its memory on a long catch-up.
const leafBatch = 4096

// extendTreeIn appends every entry with a seq above the tree's size to the
// tree, in q, and returns the tree's new right edge. appended holds the
// leaves of the entries the caller has just inserted, in seq order; when
// they follow the tree directly, they are used instead of reading the rows
// back.
func (c *Chain) extendTreeIn(ctx context.Context, q execQueryer, appended []leafRow) (*compact.Range, error) {
	size, err := treeSize(ctx, q)
	if err != nil {
		return nil, err
	}
	r := c.tree.frontier(size)
	if r == nil {
		if r, err = loadRange(ctx, q, size); err != nil {
			return nil, err
		}
	}

	var pending []any // id, hash, id, hash, ... of nodes not yet stored
	visit := func(id compact.NodeID, hash []byte) {
		pending = append(pending, nodeID(id.Level, id.Index), hash)
	}
	leaves := make([]leafRow, 0, leafBatch)
	for {
		if len(appended) > 0 && appended[0].seq == int64(r.End())+1 {
			// The rows just inserted follow the tree: their leaves are known.
			leaves, appended = appended, nil
		} else {
			appended = nil
			leaves, err = readLeafRows(ctx, q, int64(r.End()), leafBatch, leaves[:0])
			if err != nil {
				return nil, err
			}
		}
		for i := range leaves {
			if want := int64(r.End()) + 1; leaves[i].seq != want {
				return nil, fmt.Errorf("%w: the tree needs seq %d next, but the chain continues at seq %d", ErrTreeDamaged, want, leaves[i].seq)
			}
			if err := r.Append(leaves[i].hash, visit); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrTreeDamaged, err)
			}
		}
		if err := insertNodes(ctx, q, pending); err != nil {
			return nil, err
		}
		pending = pending[:0]
		if len(leaves) < leafBatch && len(appended) == 0 {
			return r, nil
		}
	}
}

// maxNodesPerInsert bounds the rows of one INSERT, well below SQLite's
// limit of 32766 bound parameters.
const maxNodesPerInsert = 1000

// insertNodes stores nodes given as id, hash pairs, with one statement per
// maxNodesPerInsert nodes: one prepared statement per node costs more than
// the tree's hashing.
func insertNodes(ctx context.Context, q execQueryer, args []any) error {
	for len(args) > 0 {
		n := min(len(args)/2, maxNodesPerInsert)
		query := "INSERT INTO merkle_node (id, hash) VALUES (?, ?)" + strings.Repeat(", (?, ?)", n-1)
		if _, err := q.ExecContext(ctx, query, args[:2*n]...); err != nil {
			return fmt.Errorf("store merkle nodes: %w", err)
		}
		args = args[2*n:]
	}
	return nil
}

type leafRow struct {
	seq  int64
	hash []byte
}

const leafColumns = `seq, timestamp_ns, trace_id, span_id, span_name, span_kind,
	canonical_hash, prev_hash, hmac_hash, semantic_body_hash`

// scanLeafEntry reads the leafColumns of a row into e; it leaves e's body
// alone.
func scanLeafEntry(s rowScanner, e *Entry) error {
	var kind, semantic sql.NullString
	if err := s.Scan(&e.Seq, &e.TimestampNS, &e.TraceID, &e.SpanID, &e.SpanName, &kind,
		&e.CanonicalHash, &e.PrevHash, &e.HMACHash, &semantic); err != nil {
		return err
	}
	e.SpanKind = kind.String
	e.SemanticBodyHash = semantic.String
	return nil
}

// readLeafRows appends to dst the seq and leaf hash of up to limit entries
// with a seq above after, in seq order.
func readLeafRows(ctx context.Context, q execQueryer, after int64, limit int, dst []leafRow) ([]leafRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+leafColumns+` FROM chain WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read entries after seq %d: %w", after, err)
	}
	defer rows.Close()
	var e Entry
	for rows.Next() {
		if err := scanLeafEntry(rows, &e); err != nil {
			return nil, fmt.Errorf("read entries after seq %d: %w", after, err)
		}
		dst = append(dst, leafRow{seq: e.Seq, hash: LeafHash(&e)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read entries after seq %d: %w", after, err)
	}
	return dst, nil
}

// treeSize returns the number of leaves stored in merkle_node, or 0 when
// the table does not exist, as in a file only Python has written. The
// nodes of a tree of n leaves have the ids 0 to storedBefore(n) - 1.
func treeSize(ctx context.Context, q execQueryer) (uint64, error) {
	var last sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT max(id) FROM merkle_node`).Scan(&last)
	if err != nil {
		if missing, checkErr := tableMissing(ctx, q, "merkle_node"); checkErr == nil && missing {
			return 0, nil
		}
		return 0, fmt.Errorf("read merkle tree size: %w", err)
	}
	if !last.Valid {
		return 0, nil
	}
	n, ok := leavesFor(last.Int64 + 1)
	if !ok {
		return 0, fmt.Errorf("%w: merkle_node ends at id %d, which no complete tree does", ErrTreeDamaged, last.Int64)
	}
	return n, nil
}

func tableMissing(ctx context.Context, q execQueryer, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n == 0, err
}

// readNodes returns the stored hashes of ids, in order.
func readNodes(ctx context.Context, q execQueryer, ids []compact.NodeID) ([][]byte, error) {
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		err := q.QueryRowContext(ctx, `SELECT hash FROM merkle_node WHERE id = ?`, nodeID(id.Level, id.Index)).Scan(&hashes[i])
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: merkle_node has no node at level %d index %d", ErrTreeDamaged, id.Level, id.Index)
		}
		if err != nil {
			return nil, fmt.Errorf("read merkle node at level %d index %d: %w", id.Level, id.Index, err)
		}
		if len(hashes[i]) != treeHasher.Size() {
			return nil, fmt.Errorf("%w: merkle node at level %d index %d is %d bytes, want %d", ErrTreeDamaged, id.Level, id.Index, len(hashes[i]), treeHasher.Size())
		}
	}
	return hashes, nil
}

// loadRange reads the compact range [0, size) from merkle_node.
func loadRange(ctx context.Context, q execQueryer, size uint64) (*compact.Range, error) {
	hashes, err := readNodes(ctx, q, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	return rangeFactory.NewRange(0, size, hashes)
}
