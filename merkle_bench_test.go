package bijotel_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/tlog"
)

var (
	million    = flag.Bool("merkle.million", false, "run TestMerkleMillion: seal 1,000,000 entries with and without the Merkle tree, then time checkpoints and proofs")
	millionDir = flag.String("merkle.dir", "", "with -merkle.million: keep the two chains in `DIR`/with and DIR/without instead of a temporary directory, for timing the commands on them")
)

const benchSecretHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// benchRecords returns n span records of about 1 KB each, numbered from
// first: a chat call with a prompt and a completion.
func benchRecords(tb testing.TB, first, n int) []bijotel.Record {
	tb.Helper()
	prompt := strings.Repeat("Summarise the quarterly report for the audit committee. ", 5)
	answer := strings.Repeat("Revenue grew 4% while costs stayed flat; no findings. ", 5)
	recs := make([]bijotel.Record, n)
	for i := range recs {
		k := uint64(first + i)
		s := &bijotel.Span{
			TraceID: fmt.Sprintf("%032x", k+1), SpanID: fmt.Sprintf("%016x", k+1), Name: "chat gpt-4o", Kind: "CLIENT",
			StartTimeUnixNano: 1779523300000000000 + k*1000, EndTimeUnixNano: 1779523300000000500 + k*1000,
			Attributes: []bijotel.Attribute{
				{Key: "gen_ai.operation.name", Value: "chat"},
				{Key: "gen_ai.provider.name", Value: "openai"},
				{Key: "gen_ai.request.model", Value: "gpt-4o"},
				{Key: "gen_ai.input.messages", Value: `[{"role":"user","parts":[{"type":"text","content":"` + prompt + `"}]}]`},
				{Key: "gen_ai.output.messages", Value: `[{"role":"assistant","parts":[{"type":"text","content":"` + answer + `"}]}]`},
				{Key: "gen_ai.usage.input_tokens", Value: int64(60)},
				{Key: "gen_ai.usage.output_tokens", Value: int64(55)},
			},
		}
		r, err := bijotel.SpanRecord(s)
		if err != nil {
			tb.Fatalf("SpanRecord: %v", err)
		}
		recs[i] = r
	}
	return recs
}

func openBenchChain(tb testing.TB, dir string, tree bool) *bijotel.Chain {
	tb.Helper()
	secret, err := bijotel.ParseSecret(benchSecretHex)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := bijotel.Open(filepath.Join(dir, "chain.db"), secret)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	if !tree {
		bijotel.DisableTreeForTest(c)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// benchmarkAppend seals batches of batch records, each batch one Append.
func benchmarkAppend(b *testing.B, tree bool, batch int) {
	c := openBenchChain(b, b.TempDir(), tree)
	recs := benchRecords(b, 0, batch)
	ctx := context.Background()
	// Start from a chain of 10,000 entries, so that the tree is not trivial.
	for range 10 {
		if _, err := c.Append(ctx, benchRecords(b, 0, 1000)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Append(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/entry")
}

func BenchmarkAppendTree(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d/tree", batch), func(b *testing.B) { benchmarkAppend(b, true, batch) })
		b.Run(fmt.Sprintf("batch=%d/no-tree", batch), func(b *testing.B) { benchmarkAppend(b, false, batch) })
	}
}

// TestMerkleMillion seals the same 1,000,000 entries into two chains, one
// with the Merkle tree kept up to date and one without. It alternates the
// batches, so that both chains see the same machine state. Then it times a
// checkpoint, proofs, their verification and the checks of verify
// --checkpoint. Run it with -merkle.million; it needs about 4.5 GB of disk
// under the test's temporary directory or -merkle.dir.
func TestMerkleMillion(t *testing.T) {
	if !*million {
		t.Skip("run with -merkle.million")
	}
	const total, batch = 1_000_000, 1000
	ctx := context.Background()
	withDir, withoutDir := t.TempDir(), t.TempDir()
	if *millionDir != "" {
		withDir, withoutDir = filepath.Join(*millionDir, "with"), filepath.Join(*millionDir, "without")
		for _, d := range []string{withDir, withoutDir} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(d, "chain.db")); err == nil {
				t.Fatalf("%s already holds a chain; pass an empty -merkle.dir", d)
			}
		}
	}
	with := openBenchChain(t, withDir, true)
	without := openBenchChain(t, withoutDir, false)

	// Seal.
	var dWith, dWithout time.Duration
	for first := 0; first < total; first += batch {
		recs := benchRecords(t, first, batch)
		start := time.Now()
		if _, err := with.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
		dWith += time.Since(start)
		start = time.Now()
		if _, err := without.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
		dWithout += time.Since(start)
	}
	t.Logf("seal %d entries in batches of %d: with tree %v (%.1f µs/entry), without %v (%.1f µs/entry), ratio %.2f",
		total, batch, dWith.Round(time.Millisecond), us(dWith, total), dWithout.Round(time.Millisecond), us(dWithout, total), float64(dWith)/float64(dWithout))
	with.Close()
	without.Close()
	t.Logf("database size: with tree %s, without %s", fileSizes(t, withDir), fileSizes(t, withoutDir))

	// A chain written without the tree, as Python writes it, catches up once.
	tc, err := bijotel.OpenForTree(filepath.Join(withoutDir, "chain.db"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	size, err := tc.SyncTree(ctx)
	if err != nil || size != total {
		t.Fatalf("SyncTree = %d, %v", size, err)
	}
	t.Logf("catch-up of a tree over %d entries written without it: %v", total, time.Since(start).Round(time.Millisecond))
	tc.Close()

	// Checkpoint, as bijotel checkpoint does it: open, sync, sign.
	skey, vkey, err := tlog.GenerateKey("bench.example")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := tlog.NewSigner(skey)
	verifier, _ := tlog.NewVerifier(vkey)
	path := filepath.Join(withDir, "chain.db")
	start = time.Now()
	c, err := bijotel.OpenForTree(path)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.Sign(ctx, c, signer, "")
	if err != nil || cp.Size != total {
		t.Fatalf("Sign = %+v, %v", cp, err)
	}
	t.Logf("checkpoint at size %d (open, sync, root, sign): %v", cp.Size, time.Since(start).Round(time.Microsecond))
	defer c.Close()

	// Proofs.
	for _, seq := range []int64{1, 500_000, total} {
		start = time.Now()
		b, err := tlog.Prove(ctx, c, seq, cp)
		if err != nil {
			t.Fatal(err)
		}
		data, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		proveTime := time.Since(start)
		start = time.Now()
		if _, err := tlog.VerifyBundle(data, verifier, ""); err != nil {
			t.Fatalf("VerifyBundle: %v", err)
		}
		t.Logf("proof of seq %d: prove %v, verify-proof %v, bundle %d bytes (%d proof hashes, body %d bytes)",
			seq, proveTime.Round(time.Microsecond), time.Since(start).Round(time.Microsecond), len(data), len(b.InclusionProof), len(*b.Entry.CanonicalBody))
		if len(data) >= 4096 {
			t.Errorf("bundle of seq %d is %d bytes, want under 4 KB", seq, len(data))
		}
	}
	start = time.Now()
	if _, err := c.ConsistencyProof(ctx, 123_457, total); err != nil {
		t.Fatal(err)
	}
	t.Logf("consistency proof 123457 -> %d: %v", total, time.Since(start).Round(time.Microsecond))

	// What verify --checkpoint adds to the HMAC walk, and the walk itself.
	ro, err := bijotel.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	start = time.Now()
	if err := tlog.CheckExtends(ctx, ro, cp); err != nil {
		t.Fatal(err)
	}
	t.Logf("CheckExtends (root recomputed from %d rows): %v", total, time.Since(start).Round(time.Millisecond))
	secret, _ := bijotel.ParseSecret(benchSecretHex)
	start = time.Now()
	rep, err := bijotel.Verify(ctx, ro, secret)
	if err != nil || !rep.Valid {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	t.Logf("HMAC walk of %d entries (bijotel.Verify): %v", total, time.Since(start).Round(time.Millisecond))
}

func us(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }

// fileSizes returns the total size of the database and its -wal file.
func fileSizes(t *testing.T, dir string) string {
	var total int64
	for _, name := range []string{"chain.db", "chain.db-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
			total += fi.Size()
		}
	}
	return fmt.Sprintf("%.0f MB", float64(total)/1e6)
}
