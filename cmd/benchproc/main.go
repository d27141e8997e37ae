// Command benchproc measures the bijotel span processor against two
// baselines in one run and prints Markdown tables for docs/benchmarks.md:
//
//   - throughput from span.End() to durable, for spans with about 1 KB of
//     attributes, next to Python BIJOTEL's write pattern reproduced in Go
//     (one connection and one transaction per span) and the SDK's
//     BatchSpanProcessor with an exporter that discards;
//   - the time span.End() takes while the queue has room;
//   - the peak heap while the writer is blocked and the queue full, for
//     several queue sizes.
//
// It writes only to chain files in a new temporary directory, which it
// removes at the end.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	bijotel "github.com/bijotel/bijotel-go"
	_ "modernc.org/sqlite"
)

var secret = []byte("benchproc secret of 32 bytes....")

func main() {
	spans := flag.Int("spans", 50_000, "spans per throughput run of the processor and the BatchSpanProcessor")
	prefill := flag.Int("prefill", 200_000, "entries that the processor writes into the chain of the second set of throughput runs")
	baselineSpans := flag.Int("baseline-spans", 3_000, "spans per throughput run of the one-transaction-per-span baseline")
	goroutines := flag.Int("goroutines", 4, "goroutines that end spans in the throughput runs")
	latencySpans := flag.Int("latency-spans", 100_000, "spans timed in each span.End() latency run")
	memorySpans := flag.Int("memory-spans", 100_000, "spans ended in each peak-memory run")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this `file`")
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchproc:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "benchproc:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	if err := run(*spans, *prefill, *baselineSpans, *goroutines, *latencySpans, *memorySpans); err != nil {
		fmt.Fprintln(os.Stderr, "benchproc:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(spans, prefill, baselineSpans, goroutines, latencySpans, memorySpans int) error {
	dir, err := os.MkdirTemp("", "benchproc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The memory runs drop spans on purpose; count the reports of those
	// losses instead of printing each.
	var lossReports atomic.Int64
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) { lossReports.Add(1) }))

	fmt.Printf("GOMAXPROCS=%d NumCPU=%d %s/%s %s, chain files in %s, load average %s\n", runtime.GOMAXPROCS(0), runtime.NumCPU(),
		runtime.GOOS, runtime.GOARCH, runtime.Version(), dir, loadAverage())
	fmt.Printf("attributes per span: %d bytes of keys and values\n\n", attributeBytes(attributes(0)))

	// Throughput from span.End() to durable, first on new chains, then on
	// a chain that already holds prefill entries, because random inserts
	// into the chain's indexes slow every writer down as the file grows.
	fmt.Println("| Writer | Chain entries before | Goroutines | Spans | Seconds | Spans/s | Peak heap objects (MiB) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	var baselineRate float64
	for _, g := range []int{1, goroutines} {
		r, err := throughput(filepath.Join(dir, fmt.Sprintf("baseline-%d.db", g)), newPerSpanWriter, 0, baselineSpans, g)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		r.print("(a) one connection and transaction per span", g)
		baselineRate = max(baselineRate, r.rate())
	}
	bsp, err := throughput("", newDiscardBatcher, 0, spans, goroutines)
	if err != nil {
		return err
	}
	bsp.print("(b) BatchSpanProcessor, discarding exporter", goroutines)
	proc, err := throughput(filepath.Join(dir, "processor.db"), newProcessor, 0, spans, goroutines)
	if err != nil {
		return err
	}
	proc.print("bijotel Processor, default options", goroutines)

	big := filepath.Join(dir, "big.db")
	fill, err := throughput(big, newProcessor, 0, prefill, goroutines)
	if err != nil {
		return err
	}
	fill.print("bijotel Processor, default options", goroutines)
	bigBaseline, err := throughput(big, newPerSpanWriter, prefill, baselineSpans, goroutines)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	bigBaseline.print("(a) one connection and transaction per span", goroutines)
	bigProc, err := throughput(big, newProcessor, prefill+baselineSpans, spans, goroutines)
	if err != nil {
		return err
	}
	bigProc.print("bijotel Processor, default options", goroutines)

	fmt.Printf("\nOn new chains: Processor vs (a) %.1fx, Processor vs (b) %.2fx. ", proc.rate()/baselineRate, proc.rate()/bsp.rate())
	fmt.Printf("On a chain of %d entries: Processor vs (a) %.1fx.\n\n", prefill, bigProc.rate()/bigBaseline.rate())

	// Latency of span.End() while the queue has room.
	fmt.Println("| span.End() with | Goroutines | p50 (µs) | p99 (µs) | p99.9 (µs) | max (µs) |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, g := range []int{1, goroutines} {
		none, err := endLatency("", newNoProcessor, latencySpans, g)
		if err != nil {
			return err
		}
		none.print("no processor", g)
		b, err := endLatency("", newDiscardBatcher, latencySpans, g)
		if err != nil {
			return err
		}
		b.print("BatchSpanProcessor", g)
		p, err := endLatency(filepath.Join(dir, fmt.Sprintf("latency-%d.db", g)), newProcessor, latencySpans, g)
		if err != nil {
			return err
		}
		p.print("bijotel Processor", g)
		fmt.Printf("| added by the Processor | %d | %.2f | %.2f | %.2f | |\n", g,
			micros(p.q(0.50)-none.q(0.50)), micros(p.q(0.99)-none.q(0.99)), micros(p.q(0.999)-none.q(0.999)))
	}

	// Peak heap with the writer blocked and the queue full.
	fmt.Println()
	fmt.Println("| Queue size | Spans ended | Spans held | Spans dropped | Peak heap objects above idle (MiB) | Live heap per held span after GC (bytes) |")
	fmt.Println("|---|---|---|---|---|---|")
	runs := []struct{ queueSize, spans int }{
		{1024, memorySpans}, {bijotel.DefaultQueueSize, memorySpans}, {bijotel.DefaultQueueSize, 3 * memorySpans}, {16384, memorySpans},
	}
	for i, r := range runs {
		if err := queueMemory(filepath.Join(dir, fmt.Sprintf("memory-%d.db", i)), r.queueSize, r.spans); err != nil {
			return err
		}
	}
	fmt.Printf("\n%d loss reports passed to otel.Handle by the memory runs; load average at the end %s\n", lossReports.Load(), loadAverage())

	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		fmt.Printf("\nmax RSS of the whole run: %.1f MiB\n", float64(ru.Maxrss)/1024)
	}
	return nil
}

// attributes returns the attributes of an LLM call, about 1 KB in all.
func attributes(i int) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.system", "anthropic"),
		attribute.String("gen_ai.request.model", "claude-haiku-4-5-20251001"),
		attribute.Int64("gen_ai.request.max_tokens", 1024),
		attribute.Float64("gen_ai.request.temperature", 0.7),
		attribute.String("gen_ai.input.messages", fmt.Sprintf(
			`[{"role":"system","parts":[{"type":"text","content":"You are a concise assistant for the operations team."}]},{"role":"user","parts":[{"type":"text","content":"Request %d: summarise the incident report in two sentences. Mention the start time, the cause and the fix, and leave out the names of people."}]}]`, i)),
		attribute.String("gen_ai.output.messages",
			`[{"role":"assistant","parts":[{"type":"text","content":"The outage began at 02:14 UTC when a config push removed the cache tier. Service was restored at 02:51 after the push was rolled back and the cache was warmed up again."}],"finish_reason":"stop"}]`),
		attribute.String("gen_ai.response.id", fmt.Sprintf("msg_%024d", i)),
		attribute.String("gen_ai.response.model", "claude-haiku-4-5-20251001"),
		attribute.StringSlice("gen_ai.response.finish_reasons", []string{"stop"}),
		attribute.Int64("gen_ai.usage.input_tokens", 312),
		attribute.Int64("gen_ai.usage.output_tokens", 58),
		attribute.String("server.address", "api.anthropic.example"),
		attribute.Int64("server.port", 443),
	}
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return string(bytes.Join(bytes.Fields(b)[:3], []byte(" ")))
}

func attributeBytes(attrs []attribute.KeyValue) int {
	n := 0
	for _, kv := range attrs {
		n += len(kv.Key) + len(kv.Value.Emit())
	}
	return n
}

// setup is a span processor under test and how to flush and stop it.
type setup struct {
	processor sdktrace.SpanProcessor // nil for no processor
	flush     func(context.Context) error
	stop      func(context.Context) error
}

type newSetup func(path string) (setup, error)

func newProcessor(path string) (setup, error) {
	p, err := bijotel.NewProcessor(path, secret)
	if err != nil {
		return setup{}, err
	}
	return setup{processor: p, flush: p.ForceFlush, stop: p.Shutdown}, nil
}

func newNoProcessor(string) (setup, error) {
	nop := func(context.Context) error { return nil }
	return setup{flush: nop, stop: nop}, nil
}

// discardExporter drops every span.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// newDiscardBatcher returns the SDK's BatchSpanProcessor with its default
// sizes, blocking instead of dropping when the queue is full, so that every
// span is counted.
func newDiscardBatcher(string) (setup, error) {
	b := sdktrace.NewBatchSpanProcessor(discardExporter{}, sdktrace.WithBlocking())
	return setup{processor: b, flush: b.ForceFlush, stop: b.Shutdown}, nil
}

// perSpanWriter reproduces Python BIJOTEL's write pattern: in OnEnd, for
// every span, it opens a new connection to the chain (bijotel.Open, with WAL,
// synchronous=FULL and a 5 s busy timeout), appends the span in one
// transaction that begins with BEGIN IMMEDIATE and reads the head, commits
// and closes the connection.
type perSpanWriter struct {
	path string
	err  atomic.Pointer[error]
}

func newPerSpanWriter(path string) (setup, error) {
	w := &perSpanWriter{path: path}
	errOf := func(context.Context) error {
		if err := w.err.Load(); err != nil {
			return *err
		}
		return nil
	}
	return setup{processor: w, flush: errOf, stop: errOf}, nil
}

func (w *perSpanWriter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (w *perSpanWriter) Shutdown(context.Context) error                  { return nil }
func (w *perSpanWriter) ForceFlush(context.Context) error                { return nil }

func (w *perSpanWriter) OnEnd(s sdktrace.ReadOnlySpan) {
	if err := w.write(s); err != nil {
		w.err.CompareAndSwap(nil, &err)
	}
}

func (w *perSpanWriter) write(s sdktrace.ReadOnlySpan) error {
	span := bijotel.SpanFromSDK(s)
	r, err := bijotel.SpanRecord(&span)
	if err != nil {
		return err
	}
	c, err := bijotel.Open(w.path, secret)
	if err != nil {
		return err
	}
	_, err = c.Append(context.Background(), []bijotel.Record{r})
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

func newProvider(p sdktrace.SpanProcessor) *sdktrace.TracerProvider {
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "benchproc"))),
	}
	if p != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	return sdktrace.NewTracerProvider(opts...)
}

// throughputResult is one throughput run.
type throughputResult struct {
	before   int // entries in the chain before the run
	spans    int
	elapsed  time.Duration
	peakHeap uint64
}

func (r throughputResult) rate() float64 { return float64(r.spans) / r.elapsed.Seconds() }

func (r throughputResult) print(name string, goroutines int) {
	fmt.Printf("| %s | %d | %d | %d | %.2f | %.0f | %.1f |\n", name, r.before, goroutines, r.spans, r.elapsed.Seconds(), r.rate(), mib(r.peakHeap))
}

// throughput ends n spans from g goroutines and flushes, and returns the
// time from the first span.End() until the flush returned: until every span
// is durable, or exported for the BatchSpanProcessor. The chain at path
// holds before spans when the run starts.
func throughput(path string, newS newSetup, before, n, g int) (throughputResult, error) {
	s, err := newS(path)
	if err != nil {
		return throughputResult{}, err
	}
	tp := newProvider(s.processor)
	tr := tp.Tracer("benchproc")
	attrs := attributes(0)
	runtime.GC()

	sampler := startHeapSampler()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range g {
		wg.Go(func() {
			for i := w; i < n; i += g {
				_, span := tr.Start(context.Background(), "chat", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
				span.End()
			}
		})
	}
	wg.Wait()
	if err := s.flush(context.Background()); err != nil {
		return throughputResult{}, err
	}
	elapsed := time.Since(start)
	peak := sampler.stop()
	if err := tp.Shutdown(context.Background()); err != nil {
		return throughputResult{}, err
	}
	if err := s.stop(context.Background()); err != nil {
		return throughputResult{}, err
	}
	if path != "" {
		if err := checkChain(path, before+n); err != nil {
			return throughputResult{}, err
		}
	}
	return throughputResult{before: before, spans: n, elapsed: elapsed, peakHeap: peak}, nil
}

// checkChain verifies the chain and checks that it holds want spans.
func checkChain(path string, want int) error {
	c, err := bijotel.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := bijotel.Verify(context.Background(), c, secret)
	if err != nil {
		return err
	}
	if !rep.Valid || rep.Spans != int64(want) || rep.LossEntries != 0 {
		return fmt.Errorf("%s: valid %v, %d spans, %d loss entries, want VALID with %d spans and no loss", path, rep.Valid, rep.Spans, rep.LossEntries, want)
	}
	return nil
}

// latencyResult holds the sorted durations of span.End() calls.
type latencyResult []time.Duration

func (r latencyResult) q(p float64) time.Duration { return r[int(p*float64(len(r)-1))] }

func (r latencyResult) print(name string, goroutines int) {
	fmt.Printf("| %s | %d | %.2f | %.2f | %.2f | %.0f |\n", name, goroutines,
		micros(r.q(0.50)), micros(r.q(0.99)), micros(r.q(0.999)), micros(r[len(r)-1]))
}

// endLatency times n span.End() calls from g goroutines. Every goroutine
// ends spans in bursts of 200 and the run flushes, untimed, after each
// round of bursts, so the queue (2048 by default) never fills.
func endLatency(path string, newS newSetup, n, g int) (latencyResult, error) {
	s, err := newS(path)
	if err != nil {
		return nil, err
	}
	tp := newProvider(s.processor)
	tr := tp.Tracer("benchproc")
	attrs := attributes(0)
	const burst = 200
	runtime.GC()

	durations := make([][]time.Duration, g)
	for done := 0; done < n; done += burst * g {
		var wg sync.WaitGroup
		for w := range g {
			wg.Go(func() {
				for range burst {
					_, span := tr.Start(context.Background(), "chat", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
					start := time.Now()
					span.End()
					durations[w] = append(durations[w], time.Since(start))
				}
			})
		}
		wg.Wait()
		if err := s.flush(context.Background()); err != nil {
			return nil, err
		}
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		return nil, err
	}
	if err := s.stop(context.Background()); err != nil {
		return nil, err
	}
	all := slices.Concat(durations...)
	slices.Sort(all)
	return all, nil
}

// queueMemory ends n spans while another connection holds the chain's write
// lock, so that the writer blocks with two batches and the queue fills, and
// reports the peak heap above the heap before the run. The spans held are
// those in the queue and in the writer's two batches.
func queueMemory(path string, queueSize, n int) error {
	p, err := bijotel.NewProcessor(path, secret, bijotel.WithQueueSize(queueSize),
		bijotel.WithBatchSize(min(bijotel.DefaultBatchSize, queueSize)), bijotel.WithFullQueuePolicy(bijotel.FullQueueDrop))
	if err != nil {
		return err
	}
	tp := newProvider(p)
	tr := tp.Tracer("benchproc")
	attrs := attributes(0)
	if err := p.ForceFlush(context.Background()); err != nil {
		return err
	}

	lock, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer lock.Close()
	conn, err := lock.Conn(context.Background())
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		return err
	}

	runtime.GC()
	idle := heapObjects()
	sampler := startHeapSampler()
	for range n {
		_, span := tr.Start(context.Background(), "chat", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
		span.End()
	}
	runtime.GC()
	queued := heapObjects()
	peak := sampler.stop()
	st := p.Stats()

	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		return err
	}
	conn.Close()
	if err := tp.Shutdown(context.Background()); err != nil {
		return err
	}
	held := int64(n) - st.LostSpans
	fmt.Printf("| %d | %d | %d | %d | %.1f | %.0f |\n", queueSize, n, held, st.LostSpans,
		mib(peak-min(peak, idle)), float64(queued-min(queued, idle))/float64(held))
	return nil
}

// heapSampler records the peak of the live heap objects every millisecond.
type heapSampler struct {
	done chan struct{}
	peak chan uint64
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{done: make(chan struct{}), peak: make(chan uint64)}
	go func() {
		var peak uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, heapObjects())
			select {
			case <-t.C:
			case <-h.done:
				h.peak <- peak
				return
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() uint64 {
	close(h.done)
	return <-h.peak
}

// heapObjects returns the bytes of heap objects, live or not yet swept,
// without stopping the world.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
