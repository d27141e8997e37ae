package otelopenai_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bijotel/bijotel-go/fakeprovider"
	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelopenai"
)

// harness is a fake OpenAI server, an instrumented client and the spans it
// records.
type harness struct {
	srv    *fakeprovider.Server
	rec    *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	client openai.Client
}

// newHarness starts a fake server and a client whose base URL has the given
// path prefix ("/v1/" for OpenAI). Retries are off, so each call is one
// HTTP attempt and one span.
func newHarness(t *testing.T, prefix string, opts ...genai.Option) *harness {
	t.Helper()
	srv, err := fakeprovider.NewOpenAI()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	opts = append([]genai.Option{genai.WithTracerProvider(tp)}, opts...)
	client := openai.NewClient(
		option.WithBaseURL(srv.URL+prefix),
		option.WithAPIKey("test-key"),
		option.WithMaxRetries(0),
		option.WithMiddleware(otelopenai.Middleware(opts...)),
	)
	return &harness{srv: srv, rec: rec, tp: tp, client: client}
}

// onlySpan flushes and returns the one span recorded, failing when there is
// not exactly one.
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
	got := v.AsStringSlice()
	if len(got) != len(want) {
		t.Errorf("%s = %q, want %q", key, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s = %q, want %q", key, got, want)
			return
		}
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

// wantNoUsage checks that the span marks usage as missing and carries no
// token counts at all.
func wantNoUsage(t *testing.T, s sdktrace.ReadOnlySpan) {
	t.Helper()
	wantBool(t, s, "bijotel.usage.missing", true)
	for k := range attrs(s) {
		if len(k) > len("gen_ai.usage.") && string(k[:len("gen_ai.usage.")]) == "gen_ai.usage." {
			t.Errorf("%s present, want no gen_ai.usage.* attributes", k)
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
