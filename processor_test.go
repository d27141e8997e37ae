package bijotel

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// processorTestSecretHex is the HMAC secret of the chains that the processor
// tests write.
const processorTestSecretHex = "6b1e0c3f9a2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829304a5b6c7"

// promptText stands for the content of a prompt, which must never appear in
// logs or error messages.
const promptText = "PROMPT-CONTENT-must-not-be-logged"

// newTestProvider returns a TracerProvider that sends every span to p.
func newTestProvider(p sdktrace.SpanProcessor) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(p),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithResource(resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
			attribute.String("service.name", "bijotel-test"))),
	)
}

// genAIAttributes returns the attributes of an LLM call, about 1 KB in all.
func genAIAttributes(i int) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.system", "anthropic"),
		attribute.String("gen_ai.request.model", "claude-haiku-4-5-20251001"),
		attribute.Int64("gen_ai.request.max_tokens", 1024),
		attribute.Float64("gen_ai.request.temperature", 0.7),
		attribute.String("gen_ai.input.messages", fmt.Sprintf(
			`[{"role":"user","parts":[{"type":"text","content":"%s %d: summarise the incident report in two sentences, with the start time, the cause and the fix."}]}]`,
			promptText, i)),
		attribute.String("gen_ai.output.messages",
			`[{"role":"assistant","parts":[{"type":"text","content":"The outage began at 02:14 UTC when a config push removed the cache tier. Service was restored at 02:51 after a rollback of the push and a cache warm-up."}],"finish_reason":"stop"}]`),
		attribute.String("gen_ai.response.id", fmt.Sprintf("msg_%024d", i)),
		attribute.StringSlice("gen_ai.response.finish_reasons", []string{"stop"}),
		attribute.Int64("gen_ai.usage.input_tokens", 312),
		attribute.Int64("gen_ai.usage.output_tokens", 58),
		attribute.String("server.address", "api.anthropic.example"),
	}
}

// endSpans ends n GenAI spans named "chat" and returns their span ids.
func endSpans(tr trace.Tracer, n int) []string {
	ids := make([]string, 0, n)
	for i := range n {
		_, span := tr.Start(context.Background(), "chat", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(genAIAttributes(i)...))
		span.End()
		ids = append(ids, span.SpanContext().SpanID().String())
	}
	return ids
}

// spanIDCounts reads the span_id column of every span entry with a
// connection of its own, so it reads only what is committed to the file.
func spanIDCounts(t testing.TB, path string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT span_id FROM chain WHERE span_kind IS NOT NULL`)
	if err != nil {
		t.Fatalf("query %s: %v", path, err)
	}
	defer rows.Close()
	counts := make(map[string]int)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("scan: %v", err)
		}
		counts[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("query %s: %v", path, err)
	}
	return counts
}

// checkExactlyOnce fails t unless every id in want occurs once in counts
// and counts holds no other span.
func checkExactlyOnce(t testing.TB, counts map[string]int, want []string) {
	t.Helper()
	seen := make(map[string]bool, len(want))
	for _, id := range want {
		if seen[id] {
			t.Fatalf("span id %s reported twice by the writers", id)
		}
		seen[id] = true
		if n := counts[id]; n != 1 {
			t.Errorf("span %s occurs %d times in the chain, want 1", id, n)
		}
	}
	for id, n := range counts {
		if !seen[id] {
			t.Errorf("span %s occurs %d times in the chain but no writer reported it", id, n)
		}
	}
}

// lossBody is the body of a loss entry.
type lossBody struct {
	LostSpans      int64            `json:"lost_spans"`
	FirstEndTimeNS string           `json:"first_end_time_ns"`
	LastEndTimeNS  string           `json:"last_end_time_ns"`
	Reasons        map[string]int64 `json:"reasons"`
}

// lossEntries returns the bodies of the loss entries of the chain at path.
func lossEntries(t testing.TB, path string) []lossBody {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT canonical_body FROM chain WHERE span_name = ? ORDER BY seq`, LossEntryName)
	if err != nil {
		t.Fatalf("query %s: %v", path, err)
	}
	defer rows.Close()
	var out []lossBody
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			t.Fatalf("scan: %v", err)
		}
		var l lossBody
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatalf("loss entry body %s: %v", body, err)
		}
		out = append(out, l)
	}
	return out
}

// lockChain takes the write lock of the chain at path with BEGIN IMMEDIATE
// on a connection of its own, and returns the function that releases it.
func lockChain(t testing.TB, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatalf("connect to %s: %v", path, err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("BEGIN IMMEDIATE on %s: %v", path, err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			conn.ExecContext(context.Background(), "ROLLBACK")
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// logBuffer is a concurrency-safe buffer for a slog text handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// otelErrorSink collects the errors passed to otel.Handle during one test.
type otelErrorSink struct {
	mu   sync.Mutex
	errs []error
}

func (s *otelErrorSink) Handle(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

func (s *otelErrorSink) errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// currentOtelSink receives otel.Handle errors; when it is nil they are
// logged as the default handler does. The otel package keeps one global
// handler, which installOtelForwarder sets once.
var (
	currentOtelSink    atomic.Pointer[otelErrorSink]
	installOtelHandler sync.Once
)

type otelForwarder struct{}

func (otelForwarder) Handle(err error) {
	if s := currentOtelSink.Load(); s != nil {
		s.Handle(err)
		return
	}
	log.Print(err)
}

// captureOtelErrors sends otel.Handle errors to a new sink until the test
// ends. Tests that use it must not run in parallel.
func captureOtelErrors(t *testing.T) *otelErrorSink {
	installOtelHandler.Do(func() { otel.SetErrorHandler(otelForwarder{}) })
	s := &otelErrorSink{}
	currentOtelSink.Store(s)
	t.Cleanup(func() { currentOtelSink.Store(nil) })
	return s
}

func TestProcessorSealsGenAISpans(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.db")
	secret := mustSecret(t, processorTestSecretHex)
	p, err := NewProcessor(path, secret)
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	captured := &capturingProcessor{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p), sdktrace.WithSpanProcessor(captured))
	tr := tp.Tracer("bijotel-test", trace.WithInstrumentationVersion("1.2.3"))

	_, genai := tr.Start(ctx, "chat claude", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(genAIAttributes(1)...))
	genai.SetStatus(codes.Error, "rate limited")
	genai.End()
	_, plain := tr.Start(ctx, "GET /health", trace.WithAttributes(attribute.String("http.route", "/health")))
	plain.End()

	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	counts := spanIDCounts(t, path)
	checkExactlyOnce(t, counts, []string{genai.SpanContext().SpanID().String()})

	// The sealed body is what EncodeSpan makes of the converted span.
	spans := captured.spans()
	if len(spans) != 2 {
		t.Fatalf("captured %d spans, want 2", len(spans))
	}
	want := SpanFromSDK(spans[0])
	wantBody, err := EncodeSpan(&want)
	if err != nil {
		t.Fatalf("EncodeSpan: %v", err)
	}
	c, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	e, err := c.Entry(ctx, 1)
	c.Close()
	if err != nil {
		t.Fatalf("Entry(1): %v", err)
	}
	if !bytes.Equal(e.CanonicalBody, wantBody.Canonical) {
		t.Errorf("sealed body = %s\nwant %s", e.CanonicalBody, wantBody.Canonical)
	}
	if e.SpanKind != "CLIENT" || e.SpanName != "chat claude" || e.SemanticBodyHash != wantBody.SemanticHash {
		t.Errorf("entry columns = kind %q name %q semantic %q, want CLIENT, chat claude, %s", e.SpanKind, e.SpanName, e.SemanticBodyHash, wantBody.SemanticHash)
	}

	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	st := p.Stats()
	if st.Filtered != 1 || st.Committed != 1 || st.LostSpans != 0 {
		t.Errorf("Stats = %+v, want 1 filtered, 1 committed, 0 lost", st)
	}
	rep := verifyFile(t, path, secret)
	if !rep.Valid || rep.Spans != 1 {
		t.Errorf("Verify = valid %v with %d spans (%v), want VALID with 1", rep.Valid, rep.Spans, rep.Broken)
	}
}

// capturingProcessor keeps the spans it is given.
type capturingProcessor struct {
	mu    sync.Mutex
	ended []sdktrace.ReadOnlySpan
}

func (c *capturingProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c *capturingProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = append(c.ended, s)
}
func (c *capturingProcessor) Shutdown(context.Context) error   { return nil }
func (c *capturingProcessor) ForceFlush(context.Context) error { return nil }
func (c *capturingProcessor) spans() []sdktrace.ReadOnlySpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sdktrace.ReadOnlySpan(nil), c.ended...)
}

func TestProcessorCustomFilter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.db")
	onlyTools := func(s *Span) bool { return strings.HasPrefix(s.Name, "tool ") }
	p, err := NewProcessor(path, mustSecret(t, processorTestSecretHex), WithFilter(onlyTools))
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	tp := newTestProvider(p)
	tr := tp.Tracer("bijotel-test")
	_, tool := tr.Start(ctx, "tool search")
	tool.End()
	endSpans(tr, 3) // GenAI spans that this filter rejects
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	checkExactlyOnce(t, spanIDCounts(t, path), []string{tool.SpanContext().SpanID().String()})
	if st := p.Stats(); st.Filtered != 3 {
		t.Errorf("Stats().Filtered = %d, want 3", st.Filtered)
	}
}

func TestProcessorBatchTimeoutCommitsPartialBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	p, err := NewProcessor(path, mustSecret(t, processorTestSecretHex), WithBatchTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	tp := newTestProvider(p)
	defer tp.Shutdown(context.Background())

	start := time.Now()
	ids := endSpans(tp.Tracer("bijotel-test"), 3)
	for len(spanIDCounts(t, path)) < len(ids) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("3 spans not committed 5 s after they ended, with a batch timeout of 50 ms")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("spans committed %v after they ended", time.Since(start))
	checkExactlyOnce(t, spanIDCounts(t, path), ids)
}

func TestProcessorShutdown(t *testing.T) {
	ctx := context.Background()
	secret := mustSecret(t, processorTestSecretHex)

	t.Run("owned chain", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "chain.db")
		p, err := NewProcessor(path, secret)
		if err != nil {
			t.Fatalf("NewProcessor: %v", err)
		}
		tp := newTestProvider(p)
		tr := tp.Tracer("bijotel-test")
		ids := endSpans(tr, 5)
		// Shutdown commits queued spans without a ForceFlush.
		if err := p.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("second Shutdown = %v, want nil", err)
		}
		endSpans(tr, 2)
		if err := p.ForceFlush(ctx); err != nil {
			t.Errorf("ForceFlush after Shutdown = %v, want nil", err)
		}
		checkExactlyOnce(t, spanIDCounts(t, path), ids)
		if st := p.Stats(); st.Ignored != 2 {
			t.Errorf("Stats().Ignored = %d, want 2", st.Ignored)
		}
		if _, err := p.chain.Head(ctx); err == nil {
			t.Errorf("chain still open after Shutdown of the processor that owns it")
		}
	})

	t.Run("caller's chain", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "chain.db")
		c, err := Open(path, secret)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer c.Close()
		p, err := NewChainProcessor(c)
		if err != nil {
			t.Fatalf("NewChainProcessor: %v", err)
		}
		tp := newTestProvider(p)
		ids := endSpans(tp.Tracer("bijotel-test"), 5)
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if _, err := c.AppendEvent(ctx, "audit.after_shutdown", map[string]any{"ok": true}); err != nil {
			t.Errorf("append after Shutdown of a processor that does not own the chain: %v", err)
		}
		checkExactlyOnce(t, spanIDCounts(t, path), ids)
	})
}

func TestProcessorNoGoroutineLeak(t *testing.T) {
	ctx := context.Background()
	before := runtime.NumGoroutine()

	path := filepath.Join(t.TempDir(), "chain.db")
	p, err := NewProcessor(path, mustSecret(t, processorTestSecretHex))
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	tp := newTestProvider(p)
	tr := tp.Tracer("bijotel-test")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { endSpans(tr, 50) })
	}
	wg.Wait()
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Shutdown, %d before NewProcessor:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProcessorConcurrentSafe(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.db")
	secret := mustSecret(t, processorTestSecretHex)
	p, err := NewProcessor(path, secret, WithQueueSize(64), WithBatchSize(16), WithBatchTimeout(time.Millisecond))
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	tp := newTestProvider(p)
	tr := tp.Tracer("bijotel-test")

	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				got := endSpans(tr, 10)
				if err := p.ForceFlush(ctx); err != nil {
					t.Errorf("ForceFlush: %v", err)
				}
				mu.Lock()
				ids = append(ids, got...)
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			_ = p.Stats()
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	checkExactlyOnce(t, spanIDCounts(t, path), ids)
	if rep := verifyFile(t, path, secret); !rep.Valid || rep.LossEntries != 0 {
		t.Errorf("Verify = valid %v, %d loss entries (%v), want VALID without loss", rep.Valid, rep.LossEntries, rep.Broken)
	}
}

func TestProcessorDropPolicyRecordsLoss(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.db")
	secret := mustSecret(t, processorTestSecretHex)
	logger, logs := newTestLogger()
	sink := captureOtelErrors(t)
	p, err := NewProcessor(path, secret, WithQueueSize(4), WithBatchSize(4), WithFullQueuePolicy(FullQueueDrop),
		WithSealerLogger(logger))
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	tp := newTestProvider(p)
	tr := tp.Tracer("bijotel-test")
	first := endSpans(tr, 2)
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}

	// With the lock held elsewhere, the writer blocks on its first batch of
	// 4 and takes a second one, the queue fills with 4 more, and OnEnd
	// drops the rest.
	release := lockChain(t, path)
	start := time.Now()
	second := endSpans(tr, 30)
	if d := time.Since(start); d > time.Second {
		t.Errorf("ending 30 spans took %v under FullQueueDrop, want no waiting", d)
	}
	release()
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush after the lock was released: %v", err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	counts := spanIDCounts(t, path)
	var kept, lost []string
	for _, id := range second {
		if counts[id] > 0 {
			kept = append(kept, id)
		} else {
			lost = append(lost, id)
		}
	}
	checkExactlyOnce(t, counts, append(first, kept...))
	if len(lost) == 0 || len(kept) > 12 {
		t.Fatalf("%d spans kept and %d lost, want at most 12 kept (two batches and a full queue)", len(kept), len(lost))
	}
	// Each batch taken after a drop carries a loss entry, so the number of
	// entries depends on when the writer took its batches.
	entries := lossEntries(t, path)
	if len(entries) == 0 {
		t.Fatalf("no loss entry, want at least one")
	}
	var lostSum int64
	for _, e := range entries {
		lostSum += e.LostSpans
		if e.Reasons[LossQueueFull] != e.LostSpans || len(e.Reasons) != 1 {
			t.Errorf("loss entry = %+v, want all %d spans lost for %s", e, e.LostSpans, LossQueueFull)
		}
		first, errFirst := strconv.ParseUint(e.FirstEndTimeNS, 10, 64)
		last, errLast := strconv.ParseUint(e.LastEndTimeNS, 10, 64)
		if errFirst != nil || errLast != nil || first == 0 || first > last || last > uint64(time.Now().UnixNano()) {
			t.Errorf("loss entry end times = %s..%s, want a range of past times", e.FirstEndTimeNS, e.LastEndTimeNS)
		}
	}
	if lostSum != int64(len(lost)) {
		t.Errorf("loss entries count %d spans, want %d", lostSum, len(lost))
	}
	rep := verifyFile(t, path, secret)
	if !rep.Valid || rep.LossEntries != int64(len(entries)) || rep.LostSpans != int64(len(lost)) {
		t.Errorf("Verify = valid %v, %d loss entries, %d lost spans, want VALID, %d, %d", rep.Valid, rep.LossEntries, rep.LostSpans, len(entries), len(lost))
	}

	// Each loss entry is reported to otel.Handle and the logger, without
	// content.
	var reported int64
	for _, err := range sink.errors() {
		var lossErr *LossError
		if !errors.As(err, &lossErr) || lossErr.Seq == 0 || !errors.Is(err, ErrSpansLost) {
			t.Errorf("otel.Handle got %v, want a LossError with the seq of its entry", err)
			continue
		}
		reported += lossErr.LostSpans
	}
	if reported != int64(len(lost)) {
		t.Errorf("otel.Handle got LossErrors for %d spans, want %d", reported, len(lost))
	}
	out := logs.String()
	if got := strings.Count(out, "sealed loss entry"); got != len(entries) {
		t.Errorf("log has %d sealed loss entry records, want %d:\n%s", got, len(entries), out)
	}
	if strings.Contains(out, promptText) {
		t.Errorf("log contains span content:\n%s", out)
	}
}

func TestProcessorBlockTimeout(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.db")
	secret := mustSecret(t, processorTestSecretHex)
	const blockTimeout = 100 * time.Millisecond
	captureOtelErrors(t)
	p, err := NewProcessor(path, secret, WithQueueSize(2), WithBatchSize(2), WithBlockTimeout(blockTimeout))
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	tp := newTestProvider(p)
	tr := tp.Tracer("bijotel-test")
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}

	// endAndCountSlow ends n spans with the lock held elsewhere and returns
	// how many span.End calls waited for the block timeout.
	endAndCountSlow := func(n int) int {
		release := lockChain(t, path)
		defer release()
		slow := 0
		for i := range n {
			start := time.Now()
			endSpans(tr, 1)
			if d := time.Since(start); d >= blockTimeout {
				slow++
				t.Logf("span %d: End took %v", i, d)
			}
		}
		return slow
	}

	// The first 4 spans make the writer's two batches, 2 more fill the
	// queue, the seventh waits for the block timeout and the later ones are
	// dropped at once, because the writer is stalled.
	if slow := endAndCountSlow(10); slow != 1 {
		t.Errorf("%d span.End calls waited for the block timeout, want 1", slow)
	}
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	// A successful commit ends the stall, so a full queue makes OnEnd wait
	// again.
	if slow := endAndCountSlow(8); slow != 1 {
		t.Errorf("after a commit, %d span.End calls waited for the block timeout, want 1", slow)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	counts := spanIDCounts(t, path)
	entries := lossEntries(t, path)
	if len(counts) != 12 || len(entries) != 2 || entries[0].Reasons[LossQueueFull] != 4 || entries[1].Reasons[LossQueueFull] != 2 {
		t.Errorf("%d spans sealed, loss entries %+v, want 12 spans and entries for 4 and 2 queue_full", len(counts), entries)
	}
	if rep := verifyFile(t, path, secret); !rep.Valid || rep.LostSpans != 6 {
		t.Errorf("Verify = valid %v with %d lost spans, want VALID with 6", rep.Valid, rep.LostSpans)
	}
}

func TestNewProcessorRejectsInvalidOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	secret := mustSecret(t, processorTestSecretHex)
	tests := []struct {
		name string
		opt  ProcessorOption
		want string
	}{
		{"queue size", WithQueueSize(0), "invalid queue size 0"},
		{"batch size", WithBatchSize(-1), "invalid batch size -1"},
		{"batch above queue", WithBatchSize(DefaultQueueSize + 1), "larger than queue size"},
		{"batch timeout", WithBatchTimeout(0), "invalid batch timeout 0s"},
		{"policy", WithFullQueuePolicy(FullQueuePolicy(7)), "FullQueuePolicy(7)"},
		{"block timeout", WithBlockTimeout(-time.Second), "invalid block timeout -1s"},
		{"retry elapsed", WithRetry(RetryPolicy{MaxElapsedTime: -1}), "invalid retry MaxElapsedTime"},
		{"retry interval", WithRetry(RetryPolicy{MaxElapsedTime: time.Second}), "invalid retry InitialInterval 0s"},
		{"retry max", WithRetry(RetryPolicy{InitialInterval: time.Second, MaxInterval: time.Millisecond, MaxElapsedTime: time.Minute}), "invalid retry MaxInterval 1ms"},
		{"filter", WithFilter(nil), "filter is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewProcessor(path, secret, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewProcessor error = %v, want one containing %q", err, tt.want)
			}
		})
	}

	// A drop policy needs no block timeout; no retry needs no intervals.
	p, err := NewProcessor(path, secret, WithFullQueuePolicy(FullQueueDrop), WithBlockTimeout(0), WithRetry(RetryPolicy{}))
	if err != nil {
		t.Fatalf("NewProcessor with FullQueueDrop and no retry: %v", err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := NewChainProcessor(nil); err == nil {
		t.Errorf("NewChainProcessor(nil) = nil error, want one")
	}
}
