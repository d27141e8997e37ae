package otelcohere

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/bijotel/bijotel-go/genai"
)

// maxBufferedBody caps the bytes of a JSON response body, and of one
// server-sent event, that the instrumentation keeps to parse. Past it the
// call is recorded without the response and marked incomplete; the
// application still reads the whole body.
const maxBufferedBody = 32 << 20

// accumulator builds a genai.Response from what the provider sent.
type accumulator interface {
	// event applies one server-sent event. For a JSON body it is called once
	// with the whole body and an empty name.
	event(name string, data []byte)
	// response returns the reply as far as it was received, and false when
	// nothing of it was understood.
	response() (genai.Response, bool)
	// complete reports whether the whole reply was received; eof is true
	// when the body was read to its end.
	complete(eof bool) bool
	// failure returns the error the provider reported in-band, or nil.
	failure() error
}

// body wraps a response body so that the call's span ends exactly once: at
// the end of the body, on a read error, or on Close, whichever comes first.
// The application reads the provider's bytes unchanged. Read and Close may
// run on different goroutines.
type body struct {
	rc     io.ReadCloser
	ctx    context.Context
	call   *genai.Call
	acc    accumulator
	stream bool

	mu       sync.Mutex
	sse      sseParser
	buf      bytes.Buffer
	overflow bool
	ended    bool
}

func newBody(ctx context.Context, rc io.ReadCloser, call *genai.Call, acc accumulator, stream bool) *body {
	b := &body{rc: rc, ctx: ctx, call: call, acc: acc, stream: stream}
	b.sse.onEvent = acc.event
	return b
}

// Read reads from the provider's body and passes the bytes to the parser.
func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)

	b.mu.Lock()
	if n > 0 && !b.ended {
		b.consume(p[:n])
	}
	b.mu.Unlock()

	switch {
	case err == io.EOF:
		b.finish(nil, true)
	case err != nil:
		b.finish(err, false)
	}
	return n, err
}

// Close ends the span, if the body's end has not, and closes the body.
func (b *body) Close() error {
	b.finish(nil, false)
	return b.rc.Close()
}

func (b *body) consume(p []byte) {
	if b.overflow {
		return
	}
	if b.stream {
		if !b.sse.write(p) {
			b.overflow = true
		}
		return
	}
	if b.buf.Len()+len(p) > maxBufferedBody {
		b.overflow = true
		b.buf = bytes.Buffer{}
		return
	}
	b.buf.Write(p)
}

// finish records the response and ends the call the first time it is
// called. readErr is a failed read; eof is true at the end of the body.
func (b *body) finish(readErr error, eof bool) {
	b.mu.Lock()
	if b.ended {
		b.mu.Unlock()
		return
	}
	b.ended = true
	switch {
	case b.overflow:
	case b.stream && eof:
		b.sse.flush()
	case b.stream:
		// The Cohere SDK hands each data line to the application once the
		// line is complete, without waiting for the blank line that ends
		// the event. So a body closed before that blank line still records
		// the event; a data line cut short is not recorded.
		b.sse.field(nil)
	case !b.stream && b.buf.Len() > 0:
		// A JSON body is parsed even when it is closed before the end:
		// a reader that stops after the closing brace never gets io.EOF.
		b.acc.event("", b.buf.Bytes())
		b.buf = bytes.Buffer{}
	}
	resp, ok := b.acc.response()
	complete := b.acc.complete(eof)
	streamErr := b.acc.failure()
	b.mu.Unlock()

	if ok {
		b.call.Respond(resp)
	}

	// The reason names the first thing that stopped the reply short.
	var err error
	switch {
	case readErr != nil:
		err = readErr
		b.call.MarkIncomplete("read error before the end of the response")
	case !complete && b.ctx.Err() != nil:
		err = b.ctx.Err()
		b.call.MarkIncomplete("context ended before the end of the response")
	case b.overflow:
		b.call.MarkIncomplete(fmt.Sprintf("response larger than %d bytes was not parsed", maxBufferedBody))
	case !complete && eof:
		b.call.MarkIncomplete("response ended before its final event")
	case !complete:
		b.call.MarkIncomplete("closed before the end of the response")
	}
	if err == nil {
		err = streamErr
	}
	b.call.End(err)
}

// sseParser splits server-sent events as the HTML standard defines them and
// calls onEvent for each one: the event name and the data lines joined by
// "\n". Lines may end in "\n" or "\r\n". Comments and unknown fields are
// skipped.
type sseParser struct {
	onEvent func(name string, data []byte)

	line    []byte
	name    string
	data    []byte
	hasData bool
}

// write consumes b. It returns false once a line or an event exceeds
// maxBufferedBody, after which the caller stops feeding the parser.
func (p *sseParser) write(b []byte) bool {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.line = append(p.line, b...)
			return len(p.line) <= maxBufferedBody
		}
		p.line = append(p.line, b[:i]...)
		b = b[i+1:]
		p.field(bytes.TrimSuffix(p.line, []byte("\r")))
		p.line = p.line[:0]
		if len(p.data) > maxBufferedBody {
			return false
		}
	}
	return true
}

// flush dispatches an event that the body ended without a blank line after.
func (p *sseParser) flush() {
	if len(p.line) > 0 {
		p.field(bytes.TrimSuffix(p.line, []byte("\r")))
		p.line = p.line[:0]
	}
	p.field(nil)
}

func (p *sseParser) field(line []byte) {
	if len(line) == 0 {
		if p.hasData {
			p.onEvent(p.name, p.data)
		}
		p.name, p.data, p.hasData = "", nil, false
		return
	}
	name, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	switch string(name) {
	case "event":
		p.name = string(value)
	case "data":
		if p.hasData {
			p.data = append(p.data, '\n')
		}
		p.data = append(p.data, value...)
		p.hasData = true
	}
}
