package httpbody

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bijotel/bijotel-go/genai"
)

// recordedCall is a genai.Call whose span goes to a span recorder of its
// own.
type recordedCall struct {
	*genai.Call
	recorder *tracetest.SpanRecorder
}

// startCall starts a call whose parent context is ctx.
func startCall(t *testing.T, ctx context.Context) recordedCall {
	t.Helper()
	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	t.Cleanup(func() { provider.Shutdown(context.Background()) })
	cfg, err := genai.NewConfig(genai.WithTracerProvider(provider))
	if err != nil {
		t.Fatal(err)
	}
	_, call := cfg.Start(ctx, genai.Request{Provider: "test", Operation: genai.OperationChat, Model: "m"})
	return recordedCall{Call: call, recorder: recorder}
}

// span returns the call's span and its attributes by key. It fails the test
// unless exactly one span has ended.
func (c recordedCall) span(t *testing.T) (sdktrace.ReadOnlySpan, map[attribute.Key]attribute.Value) {
	t.Helper()
	ended := c.recorder.Ended()
	if len(ended) != 1 {
		t.Fatalf("ended spans = %d, want 1", len(ended))
	}
	attrs := make(map[attribute.Key]attribute.Value)
	for _, kv := range ended[0].Attributes() {
		attrs[kv.Key] = kv.Value
	}
	return ended[0], attrs
}

// wantReason checks bijotel.response.incomplete_reason. An empty want means
// that the call is complete.
func wantReason(t *testing.T, attrs map[attribute.Key]attribute.Value, want string) {
	t.Helper()
	got := attrs[genai.IncompleteReasonKey].AsString()
	if got != want {
		t.Errorf("incomplete reason = %q, want %q", got, want)
	}
	if incomplete := attrs[genai.IncompleteKey].AsBool(); incomplete != (want != "") {
		t.Errorf("bijotel.response.incomplete = %v, want %v", incomplete, want != "")
	}
}

// eventList is an accumulator for tests. The response ID lists the events
// received as "name|data", joined by commas, with data over 100 bytes
// replaced by "large". An event named "done", or a JSON body that contains
// "done", completes the reply. An event named "error" is an in-band failure
// with the event's data as its message.
type eventList struct {
	events  []string
	sizes   []int // the data size of each event
	done    bool
	failure error
}

func (l *eventList) accumulator() Accumulator {
	return Accumulator{Event: l.event, Response: l.response, Complete: l.isComplete, Failure: l.failed}
}

func (l *eventList) event(name string, data []byte) {
	l.sizes = append(l.sizes, len(data))
	if len(data) > 100 {
		data = []byte("large")
	}
	l.events = append(l.events, name+"|"+string(data))
	switch {
	case name == "done", name == "" && strings.Contains(string(data), "done"):
		l.done = true
	case name == "error":
		l.failure = errors.New(string(data))
	}
}

func (l *eventList) response() (genai.Response, bool) {
	if len(l.events) == 0 {
		return genai.Response{}, false
	}
	return genai.Response{ID: strings.Join(l.events, ",")}, true
}

func (l *eventList) isComplete(bool) bool { return l.done }
func (l *eventList) failed() error        { return l.failure }

// readReply reads body to io.EOF through NewReply and closes it.
func readReply(t *testing.T, body string, format Format) (*eventList, map[attribute.Key]attribute.Value) {
	t.Helper()
	call := startCall(t, context.Background())
	var l eventList
	b := NewReply(context.Background(), io.NopCloser(iotest.HalfReader(strings.NewReader(body))), call.Call, l.accumulator(), format)
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != body {
		t.Errorf("application read %q, want %q", got, body)
	}
	b.Close()
	_, attrs := call.span(t)
	return &l, attrs
}

// closeEarly reads the first n bytes of body through NewReply, without
// reaching io.EOF, and closes it.
func closeEarly(t *testing.T, body string, n int, format Format) map[attribute.Key]attribute.Value {
	t.Helper()
	call := startCall(t, context.Background())
	var l eventList
	b := NewReply(context.Background(), io.NopCloser(strings.NewReader(body)), call.Call, l.accumulator(), format)
	if _, err := io.ReadFull(b, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	_, attrs := call.span(t)
	return attrs
}

func TestReplyStreamToEnd(t *testing.T) {
	_, attrs := readReply(t, "data: a\n\nevent: done\ndata: x\n\n", Format{Stream: true})
	if got := attrs["gen_ai.response.id"].AsString(); got != "|a,done|x" {
		t.Errorf("events = %q, want %q", got, "|a,done|x")
	}
	wantReason(t, attrs, "")
}

func TestReplyStreamWithoutFinalEvent(t *testing.T) {
	_, attrs := readReply(t, "data: a\n\ndata: b", Format{Stream: true})
	if got := attrs["gen_ai.response.id"].AsString(); got != "|a,|b" {
		t.Errorf("events = %q, want %q with the unterminated last event", got, "|a,|b")
	}
	wantReason(t, attrs, "response ended before its final event")
}

func TestReplyStreamClosedEarly(t *testing.T) {
	const sent = "data: a\n\ndata: b\n"
	body := sent + "\ndata: c"
	tests := []struct {
		name   string
		format Format
		want   string
	}{
		{"pending event dropped", Format{Stream: true}, "|a"},
		{"pending event dispatched", Format{Stream: true, DispatchOnEarlyEnd: true}, "|a,|b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs := closeEarly(t, body, len(sent), tt.format)
			if got := attrs["gen_ai.response.id"].AsString(); got != tt.want {
				t.Errorf("events = %q, want %q", got, tt.want)
			}
			wantReason(t, attrs, "closed before the end of the response")
		})
	}
}

func TestReplyJSONAtEOF(t *testing.T) {
	const body = `{"done":true}`
	l, attrs := readReply(t, body, Format{})
	if want := "|" + body; len(l.events) != 1 || l.events[0] != want {
		t.Errorf("events = %q, want the whole body once: %q", l.events, want)
	}
	wantReason(t, attrs, "")
}

func TestReplyJSONClosedEarly(t *testing.T) {
	const body = `{"done":true}` + "\n"
	t.Run("parsed only at EOF", func(t *testing.T) {
		attrs := closeEarly(t, body, len(body)-1, Format{})
		if v, ok := attrs["gen_ai.response.id"]; ok {
			t.Errorf("gen_ai.response.id = %s, want absent", v.Emit())
		}
		wantReason(t, attrs, "closed before the end of the response")
	})
	t.Run("parsed on early end", func(t *testing.T) {
		attrs := closeEarly(t, body, len(body)-1, Format{ParseJSONOnEarlyEnd: true})
		if got := attrs["gen_ai.response.id"].AsString(); got != `|{"done":true}` {
			t.Errorf("events = %q, want the body read before Close", got)
		}
		wantReason(t, attrs, "")
	})
}

func TestReplyInvalidJSONReason(t *testing.T) {
	_, attrs := readReply(t, "not json", Format{})
	wantReason(t, attrs, "response ended before its final event")

	_, attrs = readReply(t, "not json", Format{InvalidJSONReason: "response body is not a valid reply"})
	wantReason(t, attrs, "response body is not a valid reply")

	// InvalidJSONReason applies to buffered bodies only.
	_, attrs = readReply(t, "data: a\n\n", Format{Stream: true, InvalidJSONReason: "response body is not a valid reply"})
	wantReason(t, attrs, "response ended before its final event")
}

// byteStream returns n copies of b and then io.EOF.
type byteStream struct {
	b byte
	n int64
}

func (s *byteStream) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), s.n))
	for i := range k {
		p[i] = s.b
	}
	s.n -= int64(k)
	return k, nil
}

// readLarge reads prefix followed by n bytes of 'x' through NewReply to
// io.EOF and returns what the accumulator received and the span's
// attributes.
func readLarge(t *testing.T, prefix string, n int64, format Format) (*eventList, map[attribute.Key]attribute.Value) {
	t.Helper()
	call := startCall(t, context.Background())
	var l eventList
	rc := io.NopCloser(io.MultiReader(strings.NewReader(prefix), &byteStream{b: 'x', n: n}))
	b := NewReply(context.Background(), rc, call.Call, l.accumulator(), format)
	read, err := io.Copy(io.Discard, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(prefix)) + n; read != want {
		t.Errorf("application read %d bytes, want %d", read, want)
	}
	b.Close()
	_, attrs := call.span(t)
	return &l, attrs
}

func TestReplyJSONOverflow(t *testing.T) {
	l, attrs := readLarge(t, "", MaxBuffered+1, Format{})
	if len(l.events) != 0 {
		t.Errorf("accumulator received %d events, want none for a body past MaxBuffered", len(l.events))
	}
	wantReason(t, attrs, fmt.Sprintf("response larger than %d bytes was not parsed", MaxBuffered))

	_, attrs = readLarge(t, "", MaxBuffered+1, Format{OverflowReason: "too large"})
	wantReason(t, attrs, "too large")
}

// A JSON body of exactly MaxBuffered bytes is still parsed.
func TestReplyJSONAtMax(t *testing.T) {
	l, attrs := readLarge(t, "", MaxBuffered, Format{})
	if len(l.sizes) != 1 || l.sizes[0] != MaxBuffered {
		t.Errorf("event sizes = %v, want one of %d bytes", l.sizes, MaxBuffered)
	}
	wantReason(t, attrs, "response ended before its final event")
}

func TestReplyStreamOverflow(t *testing.T) {
	const prefix = "data: a\n\ndata: "
	t.Run("pending event dropped", func(t *testing.T) {
		l, attrs := readLarge(t, prefix, MaxBuffered+1, Format{Stream: true})
		if want := []int{1}; fmt.Sprint(l.sizes) != fmt.Sprint(want) {
			t.Errorf("event sizes = %v, want %v", l.sizes, want)
		}
		wantReason(t, attrs, fmt.Sprintf("response larger than %d bytes was not parsed", MaxBuffered))
	})
	t.Run("FlushAfterOverflow", func(t *testing.T) {
		l, attrs := readLarge(t, prefix, 2*MaxBuffered, Format{Stream: true, FlushAfterOverflow: true})
		if len(l.sizes) != 2 {
			t.Fatalf("event sizes = %v, want 2 events", l.sizes)
		}
		// The last event holds the data fed to the parser before it passed
		// MaxBuffered, not the whole line.
		if size := l.sizes[1]; size < MaxBuffered-len("data: ") || size >= 2*MaxBuffered {
			t.Errorf("last event has %d bytes, want about MaxBuffered (%d)", size, MaxBuffered)
		}
		wantReason(t, attrs, fmt.Sprintf("response larger than %d bytes was not parsed", MaxBuffered))
	})
}

func TestReplyReadError(t *testing.T) {
	readErr := errors.New("connection reset by peer")
	call := startCall(t, context.Background())
	var l eventList
	rc := io.NopCloser(io.MultiReader(strings.NewReader("data: a\n\n"), iotest.ErrReader(readErr)))
	b := NewReply(context.Background(), rc, call.Call, l.accumulator(), Format{Stream: true})
	if _, err := io.ReadAll(b); !errors.Is(err, readErr) {
		t.Fatalf("read error = %v, want %v", err, readErr)
	}
	b.Close()

	s, attrs := call.span(t)
	if s.Status().Code != codes.Error || s.Status().Description != readErr.Error() {
		t.Errorf("status = %v, want Error %q", s.Status(), readErr)
	}
	if got := attrs["gen_ai.response.id"].AsString(); got != "|a" {
		t.Errorf("events = %q, want the event before the error", got)
	}
	wantReason(t, attrs, "read error before the end of the response")
}

func TestReplyInBandFailure(t *testing.T) {
	call := startCall(t, context.Background())
	var l eventList
	b := NewReply(context.Background(), io.NopCloser(strings.NewReader("event: error\ndata: overloaded\n\n")), call.Call, l.accumulator(), Format{Stream: true})
	io.ReadAll(b)
	b.Close()

	s, _ := call.span(t)
	if s.Status().Code != codes.Error || s.Status().Description != "overloaded" {
		t.Errorf("status = %v, want Error %q", s.Status(), "overloaded")
	}
}

func TestReplyContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	call := startCall(t, ctx)
	var l eventList
	b := NewReply(ctx, io.NopCloser(strings.NewReader("data: a\n\ndata: b\n\n")), call.Call, l.accumulator(), Format{Stream: true})
	b.Read(make([]byte, 4))
	b.Close()

	s, attrs := call.span(t)
	if s.Status().Code != codes.Error || s.Status().Description != context.Canceled.Error() {
		t.Errorf("status = %v, want Error %q", s.Status(), context.Canceled)
	}
	wantReason(t, attrs, "context ended before the end of the response")
}

// Close racing with Read, and Close called twice, still end one span.
func TestReplyConcurrentCloseOneSpan(t *testing.T) {
	for range 20 {
		call := startCall(t, context.Background())
		var l eventList
		pr, pw := io.Pipe()
		b := NewReply(context.Background(), pr, call.Call, l.accumulator(), Format{Stream: true})

		var wg sync.WaitGroup
		wg.Go(func() { io.ReadAll(b) })
		wg.Go(func() { writeChunks(pw, "data: a\n\n", 10) })
		b.Close()
		b.Close()
		wg.Wait()

		call.span(t)
	}
}

func TestOutcomeEndReasons(t *testing.T) {
	readErr := errors.New("connection reset by peer")
	failure := errors.New("overloaded")
	tests := []struct {
		name       string
		outcome    Outcome
		ctxEnded   bool
		wantReason string
		wantErr    string
	}{
		{"complete", Outcome{EOF: true, Complete: true}, false, "", ""},
		{"complete after context ended", Outcome{Complete: true}, true, "", ""},
		{"read error first", Outcome{ReadErr: readErr, Complete: true, ParseStopped: "stopped", Failure: failure}, true,
			"read error before the end of the response", readErr.Error()},
		{"context before parse stop", Outcome{ParseStopped: "stopped"}, true,
			"context ended before the end of the response", context.Canceled.Error()},
		{"parse stop before EOF reason", Outcome{EOF: true, ParseStopped: "stopped", EOFReason: "invalid"}, false, "stopped", ""},
		{"parse stop on a complete reply", Outcome{EOF: true, Complete: true, ParseStopped: "stopped"}, false, "stopped", ""},
		{"EOF reason", Outcome{EOF: true, EOFReason: "invalid"}, false, "invalid", ""},
		{"EOF default reason", Outcome{EOF: true}, false, "response ended before its final event", ""},
		{"closed", Outcome{EOFReason: "invalid"}, false, "closed before the end of the response", ""},
		{"in-band failure", Outcome{EOF: true, Complete: true, Failure: failure}, false, "", failure.Error()},
		{"in-band failure on an incomplete reply", Outcome{EOF: true, Failure: failure}, false,
			"response ended before its final event", failure.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.ctxEnded {
				cancel()
			}
			call := startCall(t, context.Background())
			tt.outcome.End(ctx, call.Call)

			s, attrs := call.span(t)
			wantReason(t, attrs, tt.wantReason)
			if tt.wantErr == "" && s.Status().Code != codes.Unset {
				t.Errorf("status = %v, want Unset", s.Status())
			}
			if tt.wantErr != "" && (s.Status().Code != codes.Error || s.Status().Description != tt.wantErr) {
				t.Errorf("status = %v, want Error %q", s.Status(), tt.wantErr)
			}
		})
	}
}

func TestOutcomeEndRecordsResponse(t *testing.T) {
	call := startCall(t, context.Background())
	Outcome{Response: genai.Response{ID: "r1"}, HasResponse: true, EOF: true, Complete: true}.End(context.Background(), call.Call)
	_, attrs := call.span(t)
	if got := attrs["gen_ai.response.id"].AsString(); got != "r1" {
		t.Errorf("gen_ai.response.id = %q, want r1", got)
	}

	call = startCall(t, context.Background())
	Outcome{Response: genai.Response{ID: "r1"}, EOF: true, Complete: true}.End(context.Background(), call.Call)
	_, attrs = call.span(t)
	if v, ok := attrs["gen_ai.response.id"]; ok {
		t.Errorf("gen_ai.response.id = %s without HasResponse, want absent", v.Emit())
	}
}
