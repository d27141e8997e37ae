package httpbody

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// endCall is one call of a Body's onEnd.
type endCall struct {
	readErr error
	eof     bool
}

// recorder collects what a Body passes to its callbacks. Its fields have no
// lock: Body promises that its callbacks never overlap, and the race
// detector checks that promise in the concurrent test.
type recorder struct {
	data     bytes.Buffer
	ends     []endCall
	lateData int // onData calls after onEnd
}

func (r *recorder) onData(p []byte) {
	if len(r.ends) > 0 {
		r.lateData++
	}
	r.data.Write(p)
}

func (r *recorder) onEnd(readErr error, eof bool) {
	r.ends = append(r.ends, endCall{readErr, eof})
}

// closeCounter is a ReadCloser that counts Close calls and returns err from
// each.
type closeCounter struct {
	io.Reader
	closes int
	err    error
}

func (c *closeCounter) Close() error {
	c.closes++
	return c.err
}

func TestBodyEndsAtEOF(t *testing.T) {
	const sent = "the whole body"
	var rec recorder
	rc := &closeCounter{Reader: iotest.OneByteReader(strings.NewReader(sent))}
	b := New(rc, rec.onData, rec.onEnd)

	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if string(got) != sent {
		t.Errorf("application read %q, want %q", got, sent)
	}
	if rec.data.String() != sent {
		t.Errorf("onData received %q, want %q", rec.data.String(), sent)
	}
	if len(rec.ends) != 1 {
		t.Fatalf("onEnd called %d times, want 1", len(rec.ends))
	}
	if rec.ends[0] != (endCall{nil, true}) {
		t.Errorf("onEnd(%v, %v), want onEnd(nil, true)", rec.ends[0].readErr, rec.ends[0].eof)
	}

	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if len(rec.ends) != 1 {
		t.Errorf("onEnd called %d times after Close, want 1", len(rec.ends))
	}
	if rc.closes != 1 {
		t.Errorf("wrapped body closed %d times, want 1", rc.closes)
	}
}

// A Read that returns the last bytes together with io.EOF passes the bytes
// to onData before onEnd runs.
func TestBodyDataWithEOF(t *testing.T) {
	const sent = "last bytes"
	var order []string
	b := New(io.NopCloser(iotest.DataErrReader(strings.NewReader(sent))),
		func(p []byte) { order = append(order, "data "+string(p)) },
		func(readErr error, eof bool) { order = append(order, "end") })

	buf := make([]byte, 64)
	n, err := b.Read(buf)
	if n != len(sent) || err != io.EOF {
		t.Fatalf("Read = %d, %v; want %d, io.EOF", n, err, len(sent))
	}
	if want := []string{"data " + sent, "end"}; strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("callbacks = %q, want %q", order, want)
	}
}

func TestBodyReadError(t *testing.T) {
	readErr := errors.New("connection reset by peer")
	var rec recorder
	b := New(io.NopCloser(io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(readErr))), rec.onData, rec.onEnd)

	got, err := io.ReadAll(b)
	if !errors.Is(err, readErr) {
		t.Fatalf("ReadAll error = %v, want %v", err, readErr)
	}
	if string(got) != "partial" {
		t.Errorf("application read %q, want %q", got, "partial")
	}
	if rec.data.String() != "partial" {
		t.Errorf("onData received %q, want %q", rec.data.String(), "partial")
	}
	b.Close()
	if len(rec.ends) != 1 {
		t.Fatalf("onEnd called %d times, want 1", len(rec.ends))
	}
	if rec.ends[0].readErr != readErr || rec.ends[0].eof {
		t.Errorf("onEnd(%v, %v), want onEnd(%v, false)", rec.ends[0].readErr, rec.ends[0].eof, readErr)
	}
}

// After Close, reads still return the wrapped body's bytes, but neither
// onData nor onEnd is called again, not even at io.EOF.
func TestBodyCloseBeforeEOF(t *testing.T) {
	var rec recorder
	b := New(io.NopCloser(strings.NewReader("first second")), rec.onData, rec.onEnd)

	buf := make([]byte, len("first"))
	if _, err := io.ReadFull(b, buf); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if len(rec.ends) != 1 {
		t.Fatalf("onEnd called %d times after Close, want 1", len(rec.ends))
	}
	if rec.ends[0] != (endCall{nil, false}) {
		t.Errorf("onEnd(%v, %v), want onEnd(nil, false)", rec.ends[0].readErr, rec.ends[0].eof)
	}

	rest, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(rest) != " second" {
		t.Errorf("read after Close = %q, want %q", rest, " second")
	}
	if rec.data.String() != "first" {
		t.Errorf("onData received %q, want only the bytes read before Close", rec.data.String())
	}
	if len(rec.ends) != 1 {
		t.Errorf("onEnd called %d times after io.EOF, want 1", len(rec.ends))
	}
}

func TestBodyCloseReturnsWrappedError(t *testing.T) {
	closeErr := errors.New("close failed")
	var rec recorder
	rc := &closeCounter{Reader: strings.NewReader(""), err: closeErr}
	b := New(rc, rec.onData, rec.onEnd)

	if err := b.Close(); err != closeErr {
		t.Errorf("first Close = %v, want %v", err, closeErr)
	}
	if err := b.Close(); err != closeErr {
		t.Errorf("second Close = %v, want %v", err, closeErr)
	}
	if rc.closes != 2 {
		t.Errorf("wrapped body closed %d times, want 2", rc.closes)
	}
	if len(rec.ends) != 1 {
		t.Errorf("onEnd called %d times, want 1", len(rec.ends))
	}
}

// Close racing with Read, and Close on several goroutines at once, still
// call onEnd exactly once and never call onData after it. Run with -race.
func TestBodyConcurrentCloseAndRead(t *testing.T) {
	for range 50 {
		var rec recorder
		pr, pw := io.Pipe()
		b := New(pr, rec.onData, rec.onEnd)

		var wg sync.WaitGroup
		wg.Go(func() { io.ReadAll(b) })
		wg.Go(func() { writeChunks(pw, "chunk\n", 20) })
		for range 3 {
			wg.Go(func() { b.Close() })
		}
		wg.Wait()

		if len(rec.ends) != 1 {
			t.Fatalf("onEnd called %d times, want 1", len(rec.ends))
		}
		if rec.lateData != 0 {
			t.Fatalf("onData called %d times after onEnd, want 0", rec.lateData)
		}
	}
}

// writeChunks writes chunk n times to pw, one Write each, and closes pw. It
// stops early when the reader closes the pipe.
func writeChunks(pw *io.PipeWriter, chunk string, n int) {
	defer pw.Close()
	for range n {
		if _, err := pw.Write([]byte(chunk)); err != nil {
			return
		}
	}
}
