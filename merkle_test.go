package bijotel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The leaf hash of seq 1 and the tree root of the five-row fixture chain,
// computed by a separate Python script from the leaf layout of
// docs/chain-format.md, which quotes them as test vectors.
const (
	fixtureLeafHash1 = "7188fc8ea5b78753992205af1179d635311e0ecbccbfd1c185a72d2d34c9756b"
	fixtureRoot5     = "758338c3e865d77bf2b55476b753f2ac08ea41f2d5e40ce0a249052a181115e9"
)

// referenceRoot is the RFC 6962 Merkle tree hash (section 2.1) written out
// with crypto/sha256 alone: the root of n leaves splits them at the largest
// power of two below n.
func referenceRoot(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		sum := sha256.Sum256(nil)
		return sum[:]
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(referenceRoot(leaves[:k]))
	h.Write(referenceRoot(leaves[k:]))
	return h.Sum(nil)
}

// referenceLeafHash encodes the leaf of e byte by byte as the chain format
// specifies it, independently of LeafData.
func referenceLeafHash(e *Entry) []byte {
	var b bytes.Buffer
	b.WriteString("bijotel-leaf-v1\n")
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	b.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.TimestampNS))
	b.Write(n[:])
	for _, s := range []string{e.TraceID, e.SpanID, e.SpanName, e.SpanKind, e.CanonicalHash, e.PrevHash, e.HMACHash, e.SemanticBodyHash} {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(s)))
		b.Write(l[:])
		b.WriteString(s)
	}
	sum := sha256.Sum256(append([]byte{0}, b.Bytes()...))
	return sum[:]
}

// allEntries reads every row with Scan.
func allEntries(t testing.TB, c *Chain) []Entry {
	t.Helper()
	var out []Entry
	err := c.Scan(context.Background(), 1, 1<<62, func(e *Entry) error {
		cp := *e
		cp.CanonicalBody = bytes.Clone(e.CanonicalBody)
		out = append(out, cp)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return out
}

func referenceLeaves(entries []Entry) [][]byte {
	leaves := make([][]byte, len(entries))
	for i := range entries {
		leaves[i] = referenceLeafHash(&entries[i])
	}
	return leaves
}

func TestLeafHashFixtureVector(t *testing.T) {
	path := writeFixture(t, 1)
	c, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer c.Close()
	e, err := c.Entry(context.Background(), 1)
	if err != nil {
		t.Fatalf("Entry: %v", err)
	}
	if got, want := hex.EncodeToString(LeafHash(e)), hex.EncodeToString(referenceLeafHash(e)); got != want {
		t.Errorf("LeafHash = %s, byte-by-byte encoding gives %s", got, want)
	}
	if got := hex.EncodeToString(LeafHash(e)); got != fixtureLeafHash1 {
		t.Errorf("LeafHash(seq 1) = %s, want %s", got, fixtureLeafHash1)
	}
	root, err := writeFixtureRoot(t)
	if err != nil {
		t.Fatalf("tree root of the fixture: %v", err)
	}
	if got := hex.EncodeToString(root); got != fixtureRoot5 {
		t.Errorf("TreeRoot(5) of the fixture = %s, want %s", got, fixtureRoot5)
	}
	if !bytes.HasPrefix(LeafData(e), []byte(LeafDomain)) {
		t.Errorf("LeafData does not start with %q", LeafDomain)
	}
}

func writeFixtureRoot(t testing.TB) ([]byte, error) {
	c, err := OpenReadOnly(writeFixture(t, 5))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.TreeRoot(context.Background(), 5)
}

func TestLeafDataBindsEveryColumn(t *testing.T) {
	base := Entry{Seq: 7, TimestampNS: 1, TraceID: "t", SpanID: "s", SpanName: "n", SpanKind: "CLIENT",
		CanonicalHash: "c", PrevHash: "p", HMACHash: "h", SemanticBodyHash: "x"}
	edits := map[string]func(e *Entry){
		"seq":                func(e *Entry) { e.Seq++ },
		"timestamp_ns":       func(e *Entry) { e.TimestampNS++ },
		"trace_id":           func(e *Entry) { e.TraceID += "0" },
		"span_id":            func(e *Entry) { e.SpanID += "0" },
		"span_name":          func(e *Entry) { e.SpanName += "0" },
		"span_kind":          func(e *Entry) { e.SpanKind = "" },
		"canonical_hash":     func(e *Entry) { e.CanonicalHash += "0" },
		"prev_hash":          func(e *Entry) { e.PrevHash += "0" },
		"hmac_hash":          func(e *Entry) { e.HMACHash += "0" },
		"semantic_body_hash": func(e *Entry) { e.SemanticBodyHash = "" },
		// Moving a byte between neighbours keeps the concatenation equal;
		// the length prefixes must tell them apart.
		"boundary": func(e *Entry) { e.TraceID, e.SpanID = "ts", "" },
	}
	want := LeafHash(&base)
	for name, edit := range edits {
		e := base
		edit(&e)
		if bytes.Equal(LeafHash(&e), want) {
			t.Errorf("editing %s keeps the leaf hash", name)
		}
	}
}

func TestTreeMatchesReference(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.db")
	c, err := Open(path, mustSecret(t, fixtureSecretHex))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()

	// Batches of varying length cross many subtree boundaries.
	n := 0
	for _, batch := range []int{1, 1, 2, 3, 1, 5, 8, 1, 13, 1, 2} {
		var recs []Record
		for range batch {
			n++
			recs = append(recs, fixtureRecord(t, n))
		}
		if _, err := c.Append(ctx, recs); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	size, err := c.TreeSize(ctx)
	if err != nil || size != uint64(n) {
		t.Fatalf("TreeSize = %d, %v; want %d", size, err, n)
	}

	leaves := referenceLeaves(allEntries(t, c))
	hasher := rfc6962.DefaultHasher
	roots := make([][]byte, n+1)
	for s := 0; s <= n; s++ {
		roots[s] = referenceRoot(leaves[:s])
		got, err := c.TreeRoot(ctx, uint64(s))
		if err != nil {
			t.Fatalf("TreeRoot(%d): %v", s, err)
		}
		if !bytes.Equal(got, roots[s]) {
			t.Errorf("TreeRoot(%d) = %x, reference %x", s, got, roots[s])
		}
		recomputed, err := c.RecomputeTreeRoot(ctx, uint64(s))
		if err != nil {
			t.Fatalf("RecomputeTreeRoot(%d): %v", s, err)
		}
		if !bytes.Equal(recomputed, roots[s]) {
			t.Errorf("RecomputeTreeRoot(%d) = %x, reference %x", s, recomputed, roots[s])
		}
	}
	for s := 1; s <= n; s++ {
		for i := 0; i < s; i++ {
			p, err := c.InclusionProof(ctx, uint64(i), uint64(s))
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", i, s, err)
			}
			if err := proof.VerifyInclusion(hasher, uint64(i), uint64(s), leaves[i], p, roots[s]); err != nil {
				t.Errorf("inclusion proof of leaf %d at size %d: %v", i, s, err)
			}
		}
		for m := 0; m <= s; m++ {
			p, err := c.ConsistencyProof(ctx, uint64(m), uint64(s))
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", m, s, err)
			}
			if err := proof.VerifyConsistency(hasher, uint64(m), uint64(s), p, roots[m], roots[s]); err != nil {
				t.Errorf("consistency proof %d to %d: %v", m, s, err)
			}
		}
	}

	if _, err := c.TreeRoot(ctx, uint64(n+1)); !errors.Is(err, ErrBeyondTree) {
		t.Errorf("TreeRoot beyond the tree: error = %v, want ErrBeyondTree", err)
	}
	if _, err := c.InclusionProof(ctx, uint64(n), uint64(n)); !errors.Is(err, ErrBeyondTree) {
		t.Errorf("InclusionProof of index = size: error = %v, want ErrBeyondTree", err)
	}
}

// The ids of merkle_node follow the order in which a compact range
// completes nodes, so one append writes consecutive ids.
func TestNodeIDOrder(t *testing.T) {
	r := rangeFactory.NewEmptyRange(0)
	next := int64(0)
	for leaf := uint64(0); leaf < 5000; leaf++ {
		err := r.Append(make([]byte, 32), func(id compact.NodeID, _ []byte) {
			if got := nodeID(id.Level, id.Index); got != next {
				t.Fatalf("nodeID(%d, %d) = %d, want %d", id.Level, id.Index, got, next)
			}
			next++
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := storedBefore(leaf + 1); got != next {
			t.Fatalf("storedBefore(%d) = %d, want %d", leaf+1, got, next)
		}
		if n, ok := leavesFor(next); !ok || n != leaf+1 {
			t.Fatalf("leavesFor(%d) = %d, %v; want %d", next, n, ok, leaf+1)
		}
	}
	if _, ok := leavesFor(storedBefore(8) - 1); ok {
		t.Errorf("leavesFor accepted a count that no complete tree has")
	}
}

func TestTreeCatchesUpPythonRows(t *testing.T) {
	ctx := context.Background()
	path := copyChain(t, filepath.Join(pythonVectorsDir, "chain.db"))
	c, err := Open(path, mustSecret(t, pythonSecretHex))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	if size, err := c.TreeSize(ctx); err != nil || size != 0 {
		t.Fatalf("TreeSize of a Python chain = %d, %v; want 0", size, err)
	}
	ev, err := EventRecord("audit.event", map[string]any{"action": "continue"}, time.Unix(0, 1779523302000000000))
	if err != nil {
		t.Fatalf("EventRecord: %v", err)
	}
	if _, err := c.Append(ctx, []Record{ev}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if size, err := c.TreeSize(ctx); err != nil || size != 13 {
		t.Fatalf("TreeSize after one Go append = %d, %v; want 13", size, err)
	}
	got, err := c.TreeRoot(ctx, 13)
	if err != nil {
		t.Fatalf("TreeRoot: %v", err)
	}
	if want := referenceRoot(referenceLeaves(allEntries(t, c))); !bytes.Equal(got, want) {
		t.Errorf("TreeRoot(13) = %x, reference %x", got, want)
	}
}

// appendRaw inserts n entries after the current head with plain SQL, as a
// writer unaware of the tree does.
func appendRaw(t testing.TB, path string, secret []byte, n int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	for i := 0; i < n; i++ {
		head, err := readHead(context.Background(), db)
		if err != nil {
			t.Fatalf("read head: %v", err)
		}
		body := fmt.Appendf(nil, `{"event":"raw","i":%d}`, i)
		ch := CanonicalHash(body)
		_, err = db.Exec(`INSERT INTO chain (timestamp_ns, trace_id, span_id, span_name, span_kind, canonical_body, canonical_hash, prev_hash, hmac_hash, semantic_body_hash)
			VALUES (?, ?, ?, 'audit.event', NULL, ?, ?, ?, ?, NULL)`, 1700000000000000000+int64(i), zeroTraceID, zeroSpanID, body, ch, head, EntryHMAC(secret, head, ch))
		if err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
}

func TestOpenForTreeSyncsWithoutSecret(t *testing.T) {
	ctx := context.Background()
	path := copyChain(t, filepath.Join(pythonVectorsDir, "chain.db"))
	c, err := OpenForTree(path)
	if err != nil {
		t.Fatalf("OpenForTree: %v", err)
	}
	defer c.Close()
	size, err := c.SyncTree(ctx)
	if err != nil || size != 12 {
		t.Fatalf("SyncTree = %d, %v; want 12", size, err)
	}
	if _, err := c.Append(ctx, []Record{fixtureRecord(t, 1)}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Append on OpenForTree chain: error = %v, want ErrReadOnly", err)
	}
	root, err := c.TreeRoot(ctx, 12)
	if err != nil {
		t.Fatalf("TreeRoot: %v", err)
	}
	if want := referenceRoot(referenceLeaves(allEntries(t, c))); !bytes.Equal(root, want) {
		t.Errorf("TreeRoot(12) = %x, reference %x", root, want)
	}
}

func TestSyncTreeReadOnly(t *testing.T) {
	ctx := context.Background()
	path := writeFixture(t, 3)
	c, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	if size, err := c.SyncTree(ctx); err != nil || size != 3 {
		t.Errorf("SyncTree of a complete tree, read-only = %d, %v; want 3", size, err)
	}
	c.Close()

	appendRaw(t, path, mustSecret(t, fixtureSecretHex), 2)
	c, err = OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer c.Close()
	if _, err := c.SyncTree(ctx); !errors.Is(err, ErrReadOnly) {
		t.Errorf("SyncTree of an incomplete tree, read-only: error = %v, want ErrReadOnly", err)
	}
}

// logBufferTree collects log output; slog handlers may be called from
// several goroutines.
type logBufferTree struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBufferTree) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBufferTree) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestTreeGapDoesNotBlockAppend(t *testing.T) {
	ctx := context.Background()
	secret := mustSecret(t, fixtureSecretHex)
	path := writeFixture(t, 5)
	appendRaw(t, path, secret, 3) // seq 6-8, not in the tree
	execSQL(t, path, `DELETE FROM chain WHERE seq = 6`)

	logs := &logBufferTree{}
	c, err := Open(path, secret, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	got, err := c.Append(ctx, []Record{fixtureRecord(t, 9)})
	if err != nil {
		t.Fatalf("Append with a gap before it: %v", err)
	}
	if got.FirstSeq != 9 {
		t.Errorf("Append seq = %d, want 9", got.FirstSeq)
	}
	if !strings.Contains(logs.String(), "merkle tree not extended") {
		t.Errorf("log = %q, want an error about the tree", logs.String())
	}
	if size, err := c.TreeSize(ctx); err != nil || size != 5 {
		t.Errorf("TreeSize = %d, %v; want 5 (unchanged)", size, err)
	}
	_, err = c.SyncTree(ctx)
	if !errors.Is(err, ErrTreeDamaged) || !strings.Contains(err.Error(), "needs seq 6 next") {
		t.Errorf("SyncTree error = %v, want ErrTreeDamaged naming seq 6", err)
	}
}

func TestTreeMissingNodeDoesNotBlockAppend(t *testing.T) {
	ctx := context.Background()
	secret := mustSecret(t, fixtureSecretHex)
	path := writeFixture(t, 5)
	// The range [0, 5) is the nodes (2, 0) and (0, 4); (2, 0) has id 6.
	execSQL(t, path, `DELETE FROM merkle_node WHERE id = 6`)

	c, err := Open(path, secret)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	if _, err := c.Append(ctx, []Record{fixtureRecord(t, 6)}); err != nil {
		t.Fatalf("Append with a damaged tree: %v", err)
	}
	if _, err := c.SyncTree(ctx); !errors.Is(err, ErrTreeDamaged) {
		t.Errorf("SyncTree error = %v, want ErrTreeDamaged", err)
	}
}

func TestFirstLeafMismatch(t *testing.T) {
	ctx := context.Background()
	path := writeFixture(t, 5)
	c, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	if _, found, err := c.FirstLeafMismatch(ctx, 5); err != nil || found {
		t.Errorf("FirstLeafMismatch of an intact chain = found %v, %v; want none", found, err)
	}
	c.Close()

	execSQL(t, path, `UPDATE chain SET span_name = 'edited' WHERE seq = 3`)
	c, err = OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer c.Close()
	seq, found, err := c.FirstLeafMismatch(ctx, 5)
	if err != nil || !found || seq != 3 {
		t.Errorf("FirstLeafMismatch = %d, %v, %v; want seq 3", seq, found, err)
	}
	if _, err := c.RecomputeTreeRoot(ctx, 6); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecomputeTreeRoot beyond the chain: error = %v, want ErrNotFound", err)
	}
}

func TestTreeAppendConcurrentSafe(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.db")
	c, err := Open(path, mustSecret(t, fixtureSecretHex))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()

	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if _, err := c.Append(ctx, []Record{fixtureRecord(t, g*100+i)}); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	size, err := c.TreeSize(ctx)
	if err != nil || size != 100 {
		t.Fatalf("TreeSize = %d, %v; want 100", size, err)
	}
	root, err := c.TreeRoot(ctx, 100)
	if err != nil {
		t.Fatalf("TreeRoot: %v", err)
	}
	if want := referenceRoot(referenceLeaves(allEntries(t, c))); !bytes.Equal(root, want) {
		t.Errorf("TreeRoot(100) = %x, reference %x", root, want)
	}
}
