// Package httpbody wraps the response bodies of instrumented HTTP calls. The
// application reads the provider's bytes unchanged, the instrumentation
// receives each chunk as it is read, and the instrumentation learns exactly
// once that the body ended.
//
// Body implements that lifecycle alone. SSEParser splits server-sent
// events. NewReply combines both to record a genai.Call from a JSON or
// event-stream reply, and Outcome ends a call for an instrumentation that
// parses its body in its own way.
package httpbody

import (
	"io"
	"sync"
)

// Body is an io.ReadCloser that passes a response body through unchanged and
// reports each chunk read and the end of the body to callbacks. Read and
// Close may run on different goroutines, as when an SDK reads a stream on
// its own goroutine and the application closes it on another.
type Body struct {
	rc     io.ReadCloser
	onData func(p []byte)
	onEnd  func(readErr error, eof bool)

	mu    sync.Mutex
	ended bool
}

// New returns a Body that reads from rc.
//
// onData receives the bytes of every Read until the body ends. It must not
// keep p, which is the caller's buffer.
//
// onEnd is called once, at the first of: a Read that returns io.EOF (eof is
// true), a Read that returns another error (readErr is that error), or Close
// (readErr is nil and eof is false). A body that is neither read to its end
// nor closed never calls it. A Read that returns bytes and an error passes
// the bytes to onData first.
//
// No two callbacks run at the same time, and onData is never called after
// onEnd has started, so the callbacks need no lock of their own. onEnd runs
// without Body's lock held.
func New(rc io.ReadCloser, onData func(p []byte), onEnd func(readErr error, eof bool)) *Body {
	return &Body{rc: rc, onData: onData, onEnd: onEnd}
}

// Read reads from the wrapped body and passes the bytes to onData.
func (b *Body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)

	b.mu.Lock()
	if n > 0 && !b.ended {
		b.onData(p[:n])
	}
	b.mu.Unlock()

	switch {
	case err == io.EOF:
		b.end(nil, true)
	case err != nil:
		b.end(err, false)
	}
	return n, err
}

// Close calls onEnd, unless the body has already ended, and then closes the
// wrapped body.
func (b *Body) Close() error {
	b.end(nil, false)
	return b.rc.Close()
}

// end calls onEnd the first time it is called.
func (b *Body) end(readErr error, eof bool) {
	b.mu.Lock()
	if b.ended {
		b.mu.Unlock()
		return
	}
	b.ended = true
	b.mu.Unlock()

	b.onEnd(readErr, eof)
}
