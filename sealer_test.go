package bijotel

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sealRecords returns n event records tagged with the caller's key.
func sealRecords(t testing.TB, key string, n int) []Record {
	t.Helper()
	out := make([]Record, n)
	for i := range out {
		r, err := EventRecord("audit.event", map[string]any{"key": key, "i": i}, time.Now())
		if err != nil {
			t.Fatalf("EventRecord: %v", err)
		}
		out[i] = r
	}
	return out
}

// eventKeys counts the committed audit.event entries by "key/i".
func eventKeys(t testing.TB, path string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT canonical_body FROM chain WHERE span_name = 'audit.event'`)
	if err != nil {
		t.Fatalf("query %s: %v", path, err)
	}
	defer rows.Close()
	counts := make(map[string]int)
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			t.Fatalf("scan: %v", err)
		}
		var fields struct {
			Key string `json:"key"`
			I   int    `json:"i"`
		}
		if err := json.Unmarshal(body, &fields); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		counts[fmt.Sprintf("%s/%d", fields.Key, fields.I)]++
	}
	return counts
}

func openTestChain(t testing.TB) (*Chain, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chain.db")
	c, err := Open(path, mustSecret(t, processorTestSecretHex))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

func newTestSealer(t testing.TB, c *Chain, opts ...SealerOption) *Sealer {
	t.Helper()
	s, err := NewSealer(c, opts...)
	if err != nil {
		t.Fatalf("NewSealer: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// waitFor polls cond until it holds, failing t after 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSealerGroupCommit(t *testing.T) {
	ctx := context.Background()
	c, path := openTestChain(t)
	s := newTestSealer(t, c)

	const goroutines, calls, perCall = 32, 10, 2
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				if err := s.Seal(ctx, sealRecords(t, fmt.Sprintf("g%d-c%d", g, i), perCall)); err != nil {
					t.Errorf("Seal: %v", err)
				}
			}
		})
	}
	wg.Wait()

	keys := eventKeys(t, path)
	if len(keys) != goroutines*calls*perCall {
		t.Errorf("%d distinct records committed, want %d", len(keys), goroutines*calls*perCall)
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("record %s committed %d times", k, n)
		}
	}
	st := s.Stats()
	t.Logf("%d Seal calls committed in %d transactions", goroutines*calls, st.Batches)
	if st.Batches >= goroutines*calls {
		t.Errorf("%d transactions for %d concurrent Seal calls, want fewer (group commit)", st.Batches, goroutines*calls)
	}
	if rep := verifyFile(t, path, mustSecret(t, processorTestSecretHex)); !rep.Valid {
		t.Errorf("Verify: %v", rep.Broken)
	}
}

func TestSealerSealLargerThanQueue(t *testing.T) {
	c, path := openTestChain(t)
	s := newTestSealer(t, c, WithQueueSize(4), WithBatchSize(4))
	if err := s.Seal(context.Background(), sealRecords(t, "big", 10)); err != nil {
		t.Fatalf("Seal of 10 records with a queue of 4: %v", err)
	}
	if st := s.Stats(); st.Batches != 1 || st.Committed != 10 {
		t.Errorf("Stats = %+v, want 10 records in 1 transaction", st)
	}
	if keys := eventKeys(t, path); len(keys) != 10 {
		t.Errorf("%d records committed, want 10", len(keys))
	}
}

func TestSealerSealContextEnds(t *testing.T) {
	c, path := openTestChain(t)
	s := newTestSealer(t, c)
	release := lockChain(t, path)

	// The writer starts to commit the first call's records at once and
	// blocks on the lock. Seal then waits for the outcome past its context,
	// because the records may still be committed.
	taken := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		taken <- s.Seal(ctx, sealRecords(t, "taken", 2))
	}()
	waitFor(t, "the commit of the first records to start", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.started == 1
	})

	// The commit of the second call's records cannot start before the lock
	// is released, so Seal withdraws them when its context ends, although
	// the writer has already taken them into its next batch.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Seal(ctx, sealRecords(t, "withdrawn", 2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Seal of queued records = %v, want context.DeadlineExceeded", err)
	}
	select {
	case err := <-taken:
		t.Fatalf("Seal of taken records returned %v while the lock was still held", err)
	default:
	}

	release()
	if err := <-taken; err != nil {
		t.Errorf("Seal of taken records = %v after the lock was released, want nil", err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	keys := eventKeys(t, path)
	if keys["taken/0"] != 1 || keys["taken/1"] != 1 || len(keys) != 2 {
		t.Errorf("committed records = %v, want taken/0 and taken/1 only", keys)
	}
	if st := s.Stats(); st.Queued != 0 {
		t.Errorf("Stats().Queued = %d after Flush, want 0", st.Queued)
	}
}

func TestSealerClose(t *testing.T) {
	ctx := context.Background()
	c, path := openTestChain(t)
	s, err := NewSealer(c)
	if err != nil {
		t.Fatalf("NewSealer: %v", err)
	}
	if err := s.Seal(ctx, sealRecords(t, "before", 1)); err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := s.Seal(ctx, sealRecords(t, "after", 1)); !errors.Is(err, ErrSealerClosed) {
		t.Errorf("Seal after Close = %v, want ErrSealerClosed", err)
	}
	if err := s.Flush(ctx); !errors.Is(err, ErrSealerClosed) {
		t.Errorf("Flush after Close = %v, want ErrSealerClosed", err)
	}
	// The caller still owns the chain.
	if _, err := c.AppendEvent(ctx, "audit.event", map[string]any{"key": "direct", "i": 0}); err != nil {
		t.Errorf("append after Close of the sealer: %v", err)
	}
	if keys := eventKeys(t, path); len(keys) != 2 {
		t.Errorf("committed records = %v, want before/0 and direct/0", keys)
	}
}

func TestNewSealerRejectsReadOnlyChain(t *testing.T) {
	_, path := openTestChain(t)
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer ro.Close()
	if _, err := NewSealer(ro); !errors.Is(err, ErrReadOnly) {
		t.Errorf("NewSealer on a read-only chain = %v, want ErrReadOnly", err)
	}
	if _, err := NewSealer(nil); err == nil {
		t.Errorf("NewSealer(nil) = nil error, want one")
	}
}

func TestProcessorShutdownContextEnds(t *testing.T) {
	sink := captureOtelErrors(t)
	path := filepath.Join(t.TempDir(), "chain.db")
	secret := mustSecret(t, processorTestSecretHex)
	p, err := NewProcessor(path, secret)
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	tp := newTestProvider(p)
	release := lockChain(t, path)
	endSpans(tp.Tracer("bijotel-test"), 10)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = tp.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrSpansLost) {
		t.Errorf("Shutdown with the lock held = %v, want context.DeadlineExceeded and ErrSpansLost", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with a 200 ms context", d)
	}
	release()

	st := p.Stats()
	if st.LostSpans != 10 || st.UnsealedLostSpans != 10 {
		t.Errorf("Stats = %+v, want 10 lost spans, all unsealed", st)
	}
	var lossErr *LossError
	for _, e := range sink.errors() {
		if errors.As(e, &lossErr) {
			break
		}
	}
	if lossErr == nil || lossErr.LostSpans != 10 || lossErr.Seq != 0 {
		t.Errorf("otel.Handle got %v, want an unsealed LossError for 10 spans", sink.errors())
	}
	if n := len(spanIDCounts(t, path)); n != 0 {
		t.Errorf("%d spans committed, want 0", n)
	}
	if rep := verifyFile(t, path, secret); !rep.Valid {
		t.Errorf("Verify: %v", rep.Broken)
	}
}

// writeFailureCase drives a processor through a write failure that fail
// starts and recover ends, and checks that the spans ended meanwhile are
// counted in a loss entry, that the chain stays valid and that no span is
// written twice. It returns the ForceFlush error seen during the failure.
func writeFailureCase(t *testing.T, p *Processor, path string, fail, recover func()) error {
	t.Helper()
	sink := captureOtelErrors(t)
	secret := mustSecret(t, processorTestSecretHex)
	tp := newTestProvider(p)
	tr := tp.Tracer("bijotel-test")
	ctx := context.Background()

	before := endSpans(tr, 5)
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush before the failure: %v", err)
	}

	fail()
	lost := endSpans(tr, 7)
	flushErr := p.ForceFlush(ctx)
	if flushErr == nil {
		t.Errorf("ForceFlush during the failure = nil, want an error")
	}
	recover()

	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush after recovery: %v", err)
	}
	after := endSpans(tr, 5)
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	counts := spanIDCounts(t, path)
	checkExactlyOnce(t, counts, append(before, after...))
	for _, id := range lost {
		if counts[id] != 0 {
			t.Errorf("span %s of the failed batch is in the chain", id)
		}
	}
	entries := lossEntries(t, path)
	if len(entries) != 1 || entries[0].LostSpans != 7 || entries[0].Reasons[LossWriteFailed] != 7 {
		t.Errorf("loss entries = %+v, want one for 7 write_failed spans", entries)
	}
	rep := verifyFile(t, path, secret)
	if !rep.Valid || rep.LossEntries != 1 || rep.LostSpans != 7 {
		t.Errorf("Verify = valid %v, %d loss entries, %d lost spans (%v), want VALID, 1, 7", rep.Valid, rep.LossEntries, rep.LostSpans, rep.Broken)
	}

	var failures, losses int
	for _, err := range sink.errors() {
		var lossErr *LossError
		switch {
		case errors.As(err, &lossErr):
			losses++
		case strings.Contains(err.Error(), "7 spans dropped"):
			failures++
		}
		if strings.Contains(err.Error(), promptText) {
			t.Errorf("otel.Handle got span content: %v", err)
		}
	}
	if failures != 1 || losses != 1 {
		t.Errorf("otel.Handle got %v, want one commit failure for 7 spans and one LossError", sink.errors())
	}
	return flushErr
}

func TestProcessorDatabaseLockedBeyondBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	logger, logs := newTestLogger()
	// The budget covers one wait of the busy timeout and a retry.
	budget := BusyTimeoutMillis*time.Millisecond + 500*time.Millisecond
	p, err := NewProcessor(path, mustSecret(t, processorTestSecretHex), WithSealerLogger(logger),
		WithRetry(RetryPolicy{InitialInterval: 100 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: budget}))
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	var release func()
	start := time.Now()
	err = writeFailureCase(t, p, path,
		func() { release = lockChain(t, path) },
		func() { release() })
	if !errors.Is(err, ErrBusy) {
		t.Errorf("ForceFlush with the lock held = %v, want an error wrapping ErrBusy", err)
	}
	t.Logf("ForceFlush error after %v: %v", time.Since(start), err)
	if st := p.Stats(); st.Retries < 1 {
		t.Errorf("Stats().Retries = %d, want at least 1", st.Retries)
	}
	if out := logs.String(); !strings.Contains(out, "retrying") || strings.Contains(out, promptText) {
		t.Errorf("log lacks the retry, or has span content:\n%s", out)
	}
}

func TestProcessorRetryBudgetInterruptsLockWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	p, err := NewProcessor(path, mustSecret(t, processorTestSecretHex),
		WithRetry(RetryPolicy{InitialInterval: 50 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsedTime: 300 * time.Millisecond}))
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	var release func()
	start := time.Now()
	err = writeFailureCase(t, p, path,
		func() { release = lockChain(t, path) },
		func() { release() })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ForceFlush with the lock held = %v, want the attempt interrupted by the budget", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the failure case took %v with a budget of 300 ms, want the wait for the lock interrupted", d)
	}
}

// setQueryOnly switches PRAGMA query_only on the chain's only connection.
// SQLite then rejects every write with SQLITE_READONLY, the error a
// read-only database file gives. Making the file read-only does not work
// here, because the tests run as root, which may write to any file.
func setQueryOnly(t testing.TB, c *Chain, on bool) {
	t.Helper()
	if _, err := c.db.Exec(fmt.Sprintf("PRAGMA query_only = %t", on)); err != nil {
		t.Fatalf("PRAGMA query_only = %t: %v", on, err)
	}
}

func TestProcessorReadOnlyDatabase(t *testing.T) {
	c, path := openTestChain(t)
	c.db.SetMaxOpenConns(1)
	p, err := NewChainProcessor(c,
		WithRetry(RetryPolicy{InitialInterval: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsedTime: 300 * time.Millisecond}))
	if err != nil {
		t.Fatalf("NewChainProcessor: %v", err)
	}
	err = writeFailureCase(t, p, path,
		func() { setQueryOnly(t, c, true) },
		func() { setQueryOnly(t, c, false) })
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("ForceFlush on a read-only connection = %v, want SQLITE_READONLY", err)
	}
	if st := p.Stats(); st.Retries < 2 {
		t.Errorf("Stats().Retries = %d, want several", st.Retries)
	}
}

func TestProcessorRetrySucceeds(t *testing.T) {
	ctx := context.Background()
	sink := captureOtelErrors(t)
	c, path := openTestChain(t)
	c.db.SetMaxOpenConns(1)
	p, err := NewChainProcessor(c,
		WithRetry(RetryPolicy{InitialInterval: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsedTime: 10 * time.Second}))
	if err != nil {
		t.Fatalf("NewChainProcessor: %v", err)
	}
	tp := newTestProvider(p)

	setQueryOnly(t, c, true)
	ids := endSpans(tp.Tracer("bijotel-test"), 10)
	go func() {
		time.Sleep(200 * time.Millisecond)
		setQueryOnly(t, c, false)
	}()
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush = %v, want the retries to succeed within the budget", err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	checkExactlyOnce(t, spanIDCounts(t, path), ids)
	st := p.Stats()
	if st.Retries < 2 || st.LostSpans != 0 || st.Batches != 1 {
		t.Errorf("Stats = %+v, want retries, no loss, one transaction", st)
	}
	if errs := sink.errors(); len(errs) != 0 {
		t.Errorf("otel.Handle got %v, want nothing", errs)
	}
	if entries := lossEntries(t, path); len(entries) != 0 {
		t.Errorf("loss entries = %+v, want none", entries)
	}
}

func TestSealerDropWithdrawnRecords(t *testing.T) {
	rec := func(name string) Record { return Record{SpanName: name} }
	names := func(records []Record) string {
		var out []string
		for _, r := range records {
			out = append(out, r.SpanName)
		}
		return strings.Join(out, " ")
	}
	kept := &sealRequest{}
	withdrawn := &sealRequest{canceled: true}
	tests := []struct {
		name        string
		recordsFrom int
		want        string
	}{
		{"with loss entry", 0, "loss span a1 a2 span2"},
		{"without loss entry", 1, "span a1 a2 span2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &sealBatch{
				records:     []Record{rec("loss"), rec("span"), rec("a1"), rec("a2"), rec("w1"), rec("w2"), rec("w3"), rec("span2")},
				recordsFrom: tt.recordsFrom,
				seals:       []sealRange{{req: kept, start: 2, end: 4}, {req: withdrawn, start: 4, end: 7}},
			}
			var s Sealer
			s.dropWithdrawnLocked(b)
			if got := names(b.records[b.recordsFrom:]); got != tt.want {
				t.Errorf("records to commit = %q, want %q", got, tt.want)
			}
		})
	}
}
