package bijotel

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Environment variables that pass parameters to child processes.
const (
	envDB         = "BIJOTEL_TEST_DB"
	envSecret     = "BIJOTEL_TEST_SECRET"
	envGoroutines = "BIJOTEL_TEST_GOROUTINES"
	envSpans      = "BIJOTEL_TEST_SPANS"
	envStartAt    = "BIJOTEL_TEST_START_AT"
	envIDsFile    = "BIJOTEL_TEST_IDS_FILE"
)

func childEnvInt(name string) (int, error) {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func childSecret() ([]byte, error) {
	return hex.DecodeString(os.Getenv(envSecret))
}

// childMultiWriter ends GenAI spans from several goroutines, flushing now
// and then so that its transactions interleave with other processes', and
// writes the ids of its spans to the ids file once Shutdown has returned nil.
// It prints the start and end of its writing in Unix nanoseconds.
func childMultiWriter() error {
	ctx := context.Background()
	secret, err := childSecret()
	if err != nil {
		return err
	}
	goroutines, err := childEnvInt(envGoroutines)
	if err != nil {
		return err
	}
	spans, err := childEnvInt(envSpans)
	if err != nil {
		return err
	}
	startAt, err := strconv.ParseInt(os.Getenv(envStartAt), 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %w", envStartAt, err)
	}

	p, err := NewProcessor(os.Getenv(envDB), secret, WithBatchTimeout(2*time.Millisecond))
	if err != nil {
		return err
	}
	// The process id in the resource shows which process wrote an entry.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p),
		sdktrace.WithResource(resource.NewSchemaless(attribute.Int("process.pid", os.Getpid()))))
	tr := tp.Tracer("bijotel-multi-writer")
	time.Sleep(time.Until(time.Unix(0, startAt)))

	start := time.Now()
	var mu sync.Mutex
	var ids []string
	var flushErrs []error
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range spans {
				got := endSpans(tr, 1)
				mu.Lock()
				ids = append(ids, got...)
				mu.Unlock()
				if i%5 == 4 {
					if err := p.ForceFlush(ctx); err != nil {
						mu.Lock()
						flushErrs = append(flushErrs, err)
						mu.Unlock()
					}
					// A pause lets the other processes take the write lock:
					// SQLite's busy handler is not fair, so a process that
					// commits back to back could otherwise finish first.
					time.Sleep(2 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if err := tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	end := time.Now()
	if err := errors.Join(flushErrs...); err != nil {
		return fmt.Errorf("ForceFlush: %w", err)
	}
	if err := os.WriteFile(os.Getenv(envIDsFile), []byte(strings.Join(ids, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	st := p.Stats()
	fmt.Printf("%d %d %d %d\n", start.UnixNano(), end.UnixNano(), st.Batches, st.Retries)
	return nil
}

func TestProcessorMultiProcess(t *testing.T) {
	procs, goroutines, spans := 4, 4, 300
	if *soak {
		procs, goroutines, spans = 6, 8, 2000
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "chain.db")
	// The children create the file together: Open retries the busy
	// failures of the switch to WAL mode.
	// Children start writing together, after all of them have opened the
	// chain.
	startAt := time.Now().Add(time.Second)

	type child struct {
		stdout, stderr bytes.Buffer
		ids            string
		err            error
	}
	children := make([]*child, procs)
	var wg sync.WaitGroup
	for i := range children {
		c := &child{ids: filepath.Join(dir, fmt.Sprintf("ids-%d.txt", i))}
		children[i] = c
		cmd := childCommand(t, "multi-writer", map[string]string{
			envDB:         path,
			envSecret:     processorTestSecretHex,
			envGoroutines: strconv.Itoa(goroutines),
			envSpans:      strconv.Itoa(spans),
			envStartAt:    strconv.FormatInt(startAt.UnixNano(), 10),
			envIDsFile:    c.ids,
		})
		cmd.Stdout, cmd.Stderr = &c.stdout, &c.stderr
		wg.Go(func() { c.err = cmd.Run() })
	}
	wg.Wait()

	var ids []string
	var latestStart, earliestEnd int64
	for i, c := range children {
		if c.err != nil {
			t.Fatalf("child %d: %v\n%s", i, c.err, c.stderr.String())
		}
		var start, end, batches, retries int64
		if _, err := fmt.Sscan(c.stdout.String(), &start, &end, &batches, &retries); err != nil {
			t.Fatalf("child %d output %q: %v", i, c.stdout.String(), err)
		}
		t.Logf("child %d: %d spans in %d transactions, %d retries, %v", i, goroutines*spans, batches, retries, time.Duration(end-start))
		latestStart = max(latestStart, start)
		if earliestEnd == 0 || end < earliestEnd {
			earliestEnd = end
		}
		data, err := os.ReadFile(c.ids)
		if err != nil {
			t.Fatalf("child %d ids: %v", i, err)
		}
		got := strings.Fields(string(data))
		if len(got) != goroutines*spans {
			t.Errorf("child %d reported %d spans, want %d", i, len(got), goroutines*spans)
		}
		ids = append(ids, got...)
	}
	if latestStart >= earliestEnd {
		t.Errorf("the children did not write at the same time: one ended before another started")
	}

	checkExactlyOnce(t, spanIDCounts(t, path), ids)
	// Had the processes written one after another, the writing process
	// would change procs-1 times along the chain.
	switches := writerSwitches(t, path)
	t.Logf("the writing process changes %d times along the chain", switches)
	if switches < procs {
		t.Errorf("the writing process changes %d times along the chain, want transactions of the %d processes interleaved", switches, procs)
	}
	rep := verifyFile(t, path, mustSecret(t, processorTestSecretHex))
	if !rep.Valid || rep.Spans != int64(len(ids)) || rep.LossEntries != 0 {
		t.Errorf("Verify = valid %v, %d spans, %d loss entries (%v), want VALID, %d, 0", rep.Valid, rep.Spans, rep.LossEntries, rep.Broken, len(ids))
	}
}

// writerSwitches counts how often the process.pid resource attribute of
// consecutive span entries changes.
func writerSwitches(t testing.TB, path string) int {
	t.Helper()
	c, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer c.Close()
	switches := 0
	var last int64
	err = c.Scan(context.Background(), 1, math.MaxInt64, func(e *Entry) error {
		var body struct {
			Resource struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"resource"`
		}
		if err := json.Unmarshal(e.CanonicalBody, &body); err != nil {
			return err
		}
		pid, _ := body.Resource.Attributes["process.pid"].(float64)
		if last != 0 && int64(pid) != last {
			switches++
		}
		last = int64(pid)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return switches
}

// childKillWriter ends spans from two goroutines in rounds of random size
// until it is killed. After each round it calls ForceFlush and, when that
// returns nil, prints "flushed" and the span ids on one line. It prints
// "ready" once the processor is open, and exits after a minute in case the
// parent died.
func childKillWriter() error {
	ctx := context.Background()
	secret, err := childSecret()
	if err != nil {
		return err
	}
	p, err := NewProcessor(os.Getenv(envDB), secret, WithBatchTimeout(time.Millisecond))
	if err != nil {
		return err
	}
	tp := newTestProvider(p)
	tr := tp.Tracer("bijotel-kill-writer")
	if _, err := os.Stdout.WriteString("ready\n"); err != nil {
		return err
	}

	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var mu sync.Mutex
		var ids []string
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				got := endSpans(tr, 1+rand.IntN(20))
				mu.Lock()
				ids = append(ids, got...)
				mu.Unlock()
			})
		}
		wg.Wait()
		if err := p.ForceFlush(ctx); err != nil {
			return fmt.Errorf("ForceFlush: %w", err)
		}
		// One write per line, below the pipe's atomic write size, so the
		// parent never reads half a line as a whole one.
		if _, err := os.Stdout.WriteString("flushed " + strings.Join(ids, " ") + "\n"); err != nil {
			return err
		}
	}
	return tp.Shutdown(ctx)
}

// chainHead returns the last seq and head of the chain at path, opening it
// for writing so that SQLite recovers the log of a killed writer first.
func chainHead(t testing.TB, path string, secret []byte) (int64, string) {
	t.Helper()
	c, err := Open(path, secret)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	b, err := c.Bounds(context.Background())
	if err != nil {
		t.Fatalf("Bounds: %v", err)
	}
	head, err := c.Head(context.Background())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	return b.Last, head
}

func TestProcessorSIGKILL(t *testing.T) {
	kills := 24
	if *soak {
		kills = 300
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "chain.db")
	secret := mustSecret(t, processorTestSecretHex)

	var reported []string
	runsWithProgress := 0
	lastSeq, head := int64(0), GenesisHash
	for run := range kills {
		cmd := childCommand(t, "kill-writer", map[string]string{envDB: path, envSecret: processorTestSecretHex})
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child: %v", err)
		}

		// Collect complete lines only: the kill may cut the last one.
		ready := make(chan struct{})
		lines := make(chan []string, 1)
		go func() {
			var flushed []string
			r := bufio.NewReader(stdout)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					break
				}
				switch {
				case line == "ready\n":
					close(ready)
				case strings.HasPrefix(line, "flushed "):
					flushed = append(flushed, strings.Fields(strings.TrimPrefix(line, "flushed "))...)
				}
			}
			io.Copy(io.Discard, stdout)
			lines <- flushed
		}()

		select {
		case <-ready:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("run %d: child not ready after 20 s:\n%s", run, stderr.String())
		}
		time.Sleep(time.Duration(rand.IntN(250)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("run %d: kill: %v", run, err)
		}
		err = cmd.Wait()
		var exitErr interface{ Sys() any }
		if !errors.As(err, &exitErr) || !exitErr.Sys().(syscall.WaitStatus).Signaled() {
			t.Fatalf("run %d: child ended with %v before the kill:\n%s", run, err, stderr.String())
		}
		if strings.Contains(stderr.String(), "DATA RACE") {
			t.Fatalf("run %d: race detected in the child:\n%s", run, stderr.String())
		}
		flushed := <-lines
		reported = append(reported, flushed...)

		// The restarted writer continues from the head the killed one left.
		newLast, newHead := chainHead(t, path, secret)
		if newLast > lastSeq {
			runsWithProgress++
			c, err := OpenReadOnly(path)
			if err != nil {
				t.Fatalf("OpenReadOnly: %v", err)
			}
			e, err := c.Entry(context.Background(), lastSeq+1)
			c.Close()
			if err != nil {
				t.Fatalf("run %d: entry %d: %v", run, lastSeq+1, err)
			}
			if e.PrevHash != head {
				t.Fatalf("run %d: entry %d links to %s, want the head %s left by the previous run", run, lastSeq+1, e.PrevHash, head)
			}
		}
		if newLast < lastSeq {
			t.Fatalf("run %d: the chain shrank from seq %d to %d", run, lastSeq, newLast)
		}
		lastSeq, head = newLast, newHead
	}
	t.Logf("%d kills, %d runs committed spans, %d spans reported flushed, %d entries", kills, runsWithProgress, len(reported), lastSeq)
	if runsWithProgress < kills/2 {
		t.Errorf("only %d of %d runs committed anything before the kill", runsWithProgress, kills)
	}

	counts := spanIDCounts(t, path)
	for _, id := range reported {
		if counts[id] != 1 {
			t.Errorf("span %s was reported flushed but occurs %d times in the chain", id, counts[id])
		}
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("span %s occurs %d times in the chain", id, n)
		}
	}
	rep := verifyFile(t, path, secret)
	if !rep.Valid || rep.Total != lastSeq {
		t.Errorf("Verify = valid %v, %d entries (%v), want VALID with %d", rep.Valid, rep.Total, rep.Broken, lastSeq)
	}
}

// diskFullResult is what the disk-full child prints.
type diskFullResult struct {
	Before   []string    `json:"before"`
	Lost     []string    `json:"lost"`
	After    []string    `json:"after"`
	FlushErr string      `json:"flush_error"`
	Stats    SealerStats `json:"stats"`
}

// childDiskFull makes writes fail for real: it lowers its own file size
// limit (RLIMIT_FSIZE) below the size of the write-ahead log, so that the
// kernel rejects SQLite's writes with EFBIG, as on a full disk. The Go
// runtime ignores the SIGXFSZ signal that comes with it. The test runs in a
// child because the limit applies to the whole process.
func childDiskFull() error {
	ctx := context.Background()
	secret, err := childSecret()
	if err != nil {
		return err
	}
	p, err := NewProcessor(os.Getenv(envDB), secret,
		WithRetry(RetryPolicy{InitialInterval: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsedTime: 300 * time.Millisecond}))
	if err != nil {
		return err
	}
	tp := newTestProvider(p)
	tr := tp.Tracer("bijotel-disk-full")
	var res diskFullResult

	res.Before = endSpans(tr, 5)
	if err := p.ForceFlush(ctx); err != nil {
		return fmt.Errorf("ForceFlush before the limit: %w", err)
	}

	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		return err
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 1024, Max: limit.Max}); err != nil {
		return err
	}
	res.Lost = endSpans(tr, 7)
	if err := p.ForceFlush(ctx); err != nil {
		res.FlushErr = err.Error()
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		return err
	}

	if err := p.ForceFlush(ctx); err != nil {
		return fmt.Errorf("ForceFlush after the limit was lifted: %w", err)
	}
	res.After = endSpans(tr, 5)
	if err := tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	res.Stats = p.Stats()
	return json.NewEncoder(os.Stdout).Encode(res)
}

func TestProcessorDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	secret := mustSecret(t, processorTestSecretHex)
	cmd := childCommand(t, "disk-full", map[string]string{envDB: path, envSecret: processorTestSecretHex})
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	var res diskFullResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("child output %q: %v", stdout.String(), err)
	}
	t.Logf("ForceFlush error over the file size limit: %s", res.FlushErr)
	if !strings.Contains(res.FlushErr, "disk I/O error") && !strings.Contains(res.FlushErr, "full") {
		t.Errorf("ForceFlush over the file size limit = %q, want a disk I/O or disk full error", res.FlushErr)
	}
	if res.Stats.Retries < 1 || res.Stats.LostSpans != 7 || res.Stats.LossEntries != 1 {
		t.Errorf("child Stats = %+v, want retries, 7 lost spans and 1 loss entry", res.Stats)
	}

	counts := spanIDCounts(t, path)
	checkExactlyOnce(t, counts, append(res.Before, res.After...))
	entries := lossEntries(t, path)
	if len(entries) != 1 || entries[0].Reasons[LossWriteFailed] != 7 {
		t.Errorf("loss entries = %+v, want one for 7 write_failed spans", entries)
	}
	if rep := verifyFile(t, path, secret); !rep.Valid || rep.LostSpans != 7 {
		t.Errorf("Verify = valid %v with %d lost spans (%v), want VALID with 7", rep.Valid, rep.LostSpans, rep.Broken)
	}
}
