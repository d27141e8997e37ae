package bijotel

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

	"github.com/transparency-dev/merkle/proof"
)

// ErrBeyondTree is wrapped by errors about a tree size or leaf index that the
// stored Merkle tree does not reach yet.
var ErrBeyondTree = errors.New("beyond the stored merkle tree")

// OpenForTree opens the existing chain at path to bring its Merkle tree up to
// date and to read roots and proofs, without the HMAC secret: whoever signs
// checkpoints need not be able to forge entries. Append on the returned Chain
// fails with ErrReadOnly. The connection settings are those of Open.
func OpenForTree(path string, opts ...Option) (*Chain, error) {
	o := newOptions(opts)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open chain %s: %w", path, err)
	}
	dsn := sqliteURI(path) + "?mode=rw&_pragma=" + fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis) +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open chain %s for its merkle tree: %w", path, err)
	}
	missing, err := tableMissing(context.Background(), db, "chain")
	if err == nil && missing {
		err = errors.New("no table named chain: not a bijotel chain database")
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open chain %s for its merkle tree: %w", path, err)
	}
	if _, err := db.Exec(merkleSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open chain %s for its merkle tree: create table merkle_node: %w", path, mapBusy(err))
	}
	c := &Chain{db: db, path: path, readOnly: true, logger: o.logger}
	c.tree.writable = true
	return c, nil
}

// TreeSize returns the number of entries the stored Merkle tree covers. It
// is 0 when the file has no tree table, as in a chain only Python wrote.
func (c *Chain) TreeSize(ctx context.Context) (uint64, error) {
	n, err := treeSize(ctx, c.db)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", c.path, err)
	}
	return n, nil
}

// SyncTree adds every entry that the stored Merkle tree lacks, such as
// entries Python BIJOTEL appended, in one write transaction, and returns
// the tree's new size. On a chain opened with OpenReadOnly it writes
// nothing: it returns the size when the tree is complete and an error
// wrapping ErrReadOnly otherwise. An error wrapping ErrTreeDamaged means
// the tree cannot grow until the chain or the table is repaired.
func (c *Chain) SyncTree(ctx context.Context) (uint64, error) {
	if c.readOnly && !c.tree.writable {
		size, err := c.TreeSize(ctx)
		if err != nil {
			return 0, err
		}
		b, err := c.Bounds(ctx)
		if err != nil {
			return 0, err
		}
		if b.Last > int64(size) {
			return 0, fmt.Errorf("merkle tree of %s covers %d of %d entries and the chain is open read-only: %w", c.path, size, b.Last, ErrReadOnly)
		}
		return size, nil
	}

	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("extend merkle tree of %s: begin: %w", c.path, mapBusy(err))
	}
	defer tx.Rollback()
	r, err := c.extendTreeIn(ctx, tx, nil)
	if err != nil {
		return 0, fmt.Errorf("extend merkle tree of %s: %w", c.path, mapBusy(err))
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("extend merkle tree of %s: commit: %w", c.path, mapBusy(err))
	}
	c.tree.keep(r)
	return r.End(), nil
}

// checkTreeSize returns an error wrapping ErrBeyondTree when the stored
// tree has fewer than size leaves.
func (c *Chain) checkTreeSize(ctx context.Context, size uint64) error {
	have, err := c.TreeSize(ctx)
	if err != nil {
		return err
	}
	if size > have {
		return fmt.Errorf("tree size %d requested, the stored tree of %s has %d leaves: %w", size, c.path, have, ErrBeyondTree)
	}
	return nil
}

// TreeRoot returns the root hash of the Merkle tree of the first size
// entries, from the stored nodes: it reads at most 64 of them. size must not
// exceed TreeSize.
func (c *Chain) TreeRoot(ctx context.Context, size uint64) ([]byte, error) {
	if size == 0 {
		return EmptyTreeRoot(), nil
	}
	if err := c.checkTreeSize(ctx, size); err != nil {
		return nil, err
	}
	r, err := loadRange(ctx, c.db, size)
	if err != nil {
		return nil, fmt.Errorf("tree root of %s at size %d: %w", c.path, size, err)
	}
	return r.GetRootHash(nil)
}

// InclusionProof returns the RFC 6962 inclusion proof of leaf index (the
// entry with seq index+1) in the tree of the first size entries, from the
// stored nodes. It reads about 2·log2(size) nodes and needs
// index < size <= TreeSize.
func (c *Chain) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("inclusion proof: leaf index %d is not below tree size %d: %w", index, size, ErrBeyondTree)
	}
	if err := c.checkTreeSize(ctx, size); err != nil {
		return nil, err
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return c.rehash(ctx, nodes)
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of the first size1 and size2 entries, from the stored nodes. It needs
// size1 <= size2 <= TreeSize.
func (c *Chain) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	if size1 > size2 {
		return nil, fmt.Errorf("consistency proof: size %d is above size %d", size1, size2)
	}
	if err := c.checkTreeSize(ctx, size2); err != nil {
		return nil, err
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	return c.rehash(ctx, nodes)
}

func (c *Chain) rehash(ctx context.Context, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := readNodes(ctx, c.db, nodes.IDs)
	if err != nil {
		return nil, fmt.Errorf("proof from %s: %w", c.path, err)
	}
	return nodes.Rehash(hashes, HashChildren)
}

// RecomputeTreeRoot returns the root of the Merkle tree of the first size
// entries computed from the chain rows alone, ignoring the stored tree, so
// that an edited merkle_node table cannot change it. It reads every row up
// to seq size, without the bodies. A chain that lacks one of those entries
// gives a *MissingEntryError naming the first missing seq.
func (c *Chain) RecomputeTreeRoot(ctx context.Context, size uint64) ([]byte, error) {
	if size == 0 {
		return EmptyTreeRoot(), nil
	}
	r := rangeFactory.NewEmptyRange(0)
	rows, err := c.db.QueryContext(ctx, `SELECT `+leafColumns+` FROM chain WHERE seq BETWEEN 1 AND ? ORDER BY seq`, int64(size))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.path, err)
	}
	defer rows.Close()
	var e Entry
	for rows.Next() {
		if err := scanLeafEntry(rows, &e); err != nil {
			return nil, fmt.Errorf("read %s: %w", c.path, err)
		}
		if want := int64(r.End()) + 1; e.Seq != want {
			return nil, &MissingEntryError{Seq: want}
		}
		if err := r.Append(LeafHash(&e), nil); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", c.path, err)
	}
	if r.End() < size {
		return nil, &MissingEntryError{Seq: int64(r.End()) + 1}
	}
	return r.GetRootHash(nil)
}

// FirstLeafMismatch compares the leaves of the stored tree with the leaves
// recomputed from the rows, for seq 1 to size, and returns the first seq at
// which they differ or either is missing. found is false when all agree. The
// result is a diagnostic, and it is evidence only when the stored tree's
// root was checked against a signed checkpoint.
func (c *Chain) FirstLeafMismatch(ctx context.Context, size uint64) (seq int64, found bool, err error) {
	leaves := make([]leafRow, 0, leafBatch)
	for next := int64(1); next <= int64(size); {
		leaves, err = readLeafRows(ctx, c.db, next-1, leafBatch, leaves[:0])
		if err != nil {
			return 0, false, err
		}
		stored, err := readStoredLeaves(ctx, c, uint64(next-1), uint64(min(next-1+leafBatch, int64(size))))
		if err != nil {
			return 0, false, err
		}
		for i := range stored {
			seq := next + int64(i)
			if i >= len(leaves) || leaves[i].seq != seq || !bytes.Equal(leaves[i].hash, stored[i]) {
				return seq, true, nil
			}
		}
		if len(stored) == 0 {
			return next, true, nil
		}
		next += int64(len(stored))
	}
	return 0, false, nil
}

// readStoredLeaves returns the stored leaf hashes with from <= index < to,
// stopping at the first index that has none.
func readStoredLeaves(ctx context.Context, c *Chain, from, to uint64) ([][]byte, error) {
	if from >= to {
		return nil, nil
	}
	rows, err := c.db.QueryContext(ctx, `SELECT id, hash FROM merkle_node WHERE id BETWEEN ? AND ? ORDER BY id`, nodeID(0, from), nodeID(0, to-1))
	if err != nil {
		return nil, fmt.Errorf("read merkle leaves of %s: %w", c.path, err)
	}
	defer rows.Close()
	var out [][]byte
	next := nodeID(0, from)
	for rows.Next() {
		var id int64
		var hash []byte
		if err := rows.Scan(&id, &hash); err != nil {
			return nil, fmt.Errorf("read merkle leaves of %s: %w", c.path, err)
		}
		if id < next {
			continue // an interior node between two leaves
		}
		if id > next {
			break
		}
		out = append(out, hash)
		next = nodeID(0, from+uint64(len(out)))
	}
	return out, rows.Err()
}

// MissingEntryError reports that the chain lacks an entry that the Merkle
// tree needs. It wraps ErrNotFound.
type MissingEntryError struct {
	Seq int64
}

func (e *MissingEntryError) Error() string {
	return fmt.Sprintf("seq %d: %v", e.Seq, ErrNotFound)
}

func (e *MissingEntryError) Unwrap() error { return ErrNotFound }

// CheckEntry checks what one entry proves on its own, without the secret or
// its neighbours: canonical_hash against SHA-256 of the body, and the
// columns that a span body repeats (span_name, span_kind, timestamp_ns,
// trace_id, span_id). It returns nil or an error in the words of Verify.
func CheckEntry(e *Entry) error {
	if CanonicalHash(e.CanonicalBody) != e.CanonicalHash {
		return errors.New(reasonCanonical)
	}
	h, ok := parseSpanHeader(e.CanonicalBody)
	if !ok {
		return nil
	}
	if problem := checkColumns(e, &h); problem != "" {
		return errors.New(problem)
	}
	return nil
}
