package otelanthropic_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bijotel/bijotel-go/fakeprovider"
	"github.com/bijotel/bijotel-go/instrumentation/otelanthropic"
)

// harness is a fake Anthropic server, a client with the SDK's spans in
// content mode plus Middleware, and the spans it records.
type harness struct {
	srv    *fakeprovider.Server
	rec    *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	client anthropic.Client
}

// newHarness starts the server and client. Retries are off so that error
// tests do not wait; the SDK records one span per call either way.
func newHarness(t *testing.T, extra ...option.RequestOption) *harness {
	t.Helper()
	srv, err := fakeprovider.NewAnthropic()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	opts := append([]option.RequestOption{
		option.WithBaseURL(srv.URL),
		option.WithAPIKey("test-key"),
		option.WithMaxRetries(0),
		option.WithTracerProvider(tp),
		otelanthropic.WithContent(),
		option.WithMiddleware(otelanthropic.Middleware()),
	}, extra...)
	return &harness{srv: srv, rec: rec, tp: tp, client: anthropic.NewClient(opts...)}
}

func (h *harness) onlySpan(t *testing.T) sdktrace.ReadOnlySpan {
	t.Helper()
	if err := h.tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := h.rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("ended spans = %d, want 1", len(spans))
	}
	if started := len(h.rec.Started()); started != 1 {
		t.Fatalf("started spans = %d, want 1", started)
	}
	return spans[0]
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func wantString(t *testing.T, s sdktrace.ReadOnlySpan, key, want string) {
	t.Helper()
	v, ok := attrs(s)[attribute.Key(key)]
	if !ok {
		t.Errorf("%s missing, want %q", key, want)
		return
	}
	if got := v.Emit(); got != want {
		t.Errorf("%s = %s, want %s", key, got, want)
	}
}

func wantInt(t *testing.T, s sdktrace.ReadOnlySpan, key string, want int64) {
	t.Helper()
	v, ok := attrs(s)[attribute.Key(key)]
	if !ok {
		t.Errorf("%s missing, want %d", key, want)
		return
	}
	if v.Type() != attribute.INT64 || v.AsInt64() != want {
		t.Errorf("%s = %s, want %d", key, v.Emit(), want)
	}
}

func wantBool(t *testing.T, s sdktrace.ReadOnlySpan, key string, want bool) {
	t.Helper()
	v, ok := attrs(s)[attribute.Key(key)]
	if !ok {
		t.Errorf("%s missing, want %v", key, want)
		return
	}
	if v.Type() != attribute.BOOL || v.AsBool() != want {
		t.Errorf("%s = %s, want %v", key, v.Emit(), want)
	}
}

func wantStrings(t *testing.T, s sdktrace.ReadOnlySpan, key string, want ...string) {
	t.Helper()
	v, ok := attrs(s)[attribute.Key(key)]
	if !ok {
		t.Errorf("%s missing, want %q", key, want)
		return
	}
	if got := v.AsStringSlice(); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("%s = %q, want %q", key, got, want)
	}
}

func wantAbsent(t *testing.T, s sdktrace.ReadOnlySpan, keys ...string) {
	t.Helper()
	m := attrs(s)
	for _, k := range keys {
		if v, ok := m[attribute.Key(k)]; ok {
			t.Errorf("%s = %s, want absent", k, v.Emit())
		}
	}
}

// wantJSON compares a JSON attribute with want after decoding both, so
// that key order does not matter.
func wantJSON(t *testing.T, s sdktrace.ReadOnlySpan, key, want string) {
	t.Helper()
	v, ok := attrs(s)[attribute.Key(key)]
	if !ok {
		t.Errorf("%s missing, want %s", key, want)
		return
	}
	var got, exp any
	if err := json.Unmarshal([]byte(v.AsString()), &got); err != nil {
		t.Errorf("%s is not JSON: %v: %s", key, err, v.AsString())
		return
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("want for %s is not JSON: %v", key, err)
	}
	g, _ := json.Marshal(got)
	e, _ := json.Marshal(exp)
	if string(g) != string(e) {
		t.Errorf("%s =\n%s\nwant\n%s", key, g, e)
	}
}
