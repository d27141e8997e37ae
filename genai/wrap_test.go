package genai_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/bijotel/bijotel-go/genai"
)

func wrapConfig(t *testing.T, opts ...genai.Option) (*genai.Config, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	cfg, err := genai.NewConfig(append([]genai.Option{genai.WithTracerProvider(tp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, rec
}

func onlyEnded(t *testing.T, rec *tracetest.SpanRecorder) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("ended spans = %d, want 1", len(spans))
	}
	return spans[0]
}

func attrMap(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

type reply struct {
	id   string
	text string
}

func replyResponse(r *reply) genai.Response {
	in, out := int64(11), int64(3)
	return genai.Response{
		ID:            r.id,
		Model:         "model-2025",
		FinishReasons: []string{"stop"},
		Messages:      []genai.Message{{Role: "assistant", Parts: []genai.Part{genai.TextPart(r.text)}, FinishReason: "stop"}},
		Usage:         &genai.Usage{InputTokens: in, OutputTokens: out},
	}
}

func TestWrapWithExtractor(t *testing.T) {
	cfg, rec := wrapConfig(t)
	req := genai.Request{
		Provider: "example", Model: "model",
		Messages: []genai.Message{{Role: "user", Parts: []genai.Part{genai.TextPart("hi")}}},
	}
	var inside trace.SpanContext
	got, err := genai.Wrap(context.Background(), cfg, req, func(ctx context.Context) (*reply, error) {
		inside = trace.SpanContextFromContext(ctx)
		return &reply{id: "r-1", text: "hello"}, nil
	}, replyResponse)
	if err != nil || got.id != "r-1" {
		t.Fatalf("Wrap = %v, %v, want the call's result", got, err)
	}

	s := onlyEnded(t, rec)
	if inside.SpanID() != s.SpanContext().SpanID() {
		t.Error("call's context does not carry the call span")
	}
	if s.Name() != "chat model" {
		t.Errorf("span name = %q, want %q", s.Name(), "chat model")
	}
	a := attrMap(s)
	checks := map[string]string{
		"gen_ai.provider.name":    "example",
		"gen_ai.operation.name":   "chat",
		"gen_ai.request.model":    "model",
		"gen_ai.response.id":      "r-1",
		"gen_ai.response.model":   "model-2025",
		"bijotel.instrumentation": "wrap",
		"gen_ai.input.messages":   `[{"parts":[{"content":"hi","type":"text"}],"role":"user"}]`,
		"gen_ai.output.messages":  `[{"finish_reason":"stop","parts":[{"content":"hello","type":"text"}],"role":"assistant"}]`,
	}
	for k, want := range checks {
		if got := a[attribute.Key(k)].Emit(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := a["gen_ai.usage.input_tokens"].AsInt64(); got != 11 {
		t.Errorf("gen_ai.usage.input_tokens = %d, want 11", got)
	}
	if got := a["gen_ai.usage.output_tokens"].AsInt64(); got != 3 {
		t.Errorf("gen_ai.usage.output_tokens = %d, want 3", got)
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v, want Unset", s.Status())
	}
}

func TestWrapWithoutExtractor(t *testing.T) {
	cfg, rec := wrapConfig(t)
	_, err := genai.Wrap(context.Background(), cfg, genai.Request{Provider: "example", Model: "model"},
		func(context.Context) (string, error) { return "ok", nil })
	if err != nil {
		t.Fatal(err)
	}
	a := attrMap(onlyEnded(t, rec))
	if !a["bijotel.usage.missing"].AsBool() {
		t.Error("bijotel.usage.missing is not true")
	}
	if _, ok := a["gen_ai.usage.input_tokens"]; ok {
		t.Error("gen_ai.usage.input_tokens present without a response")
	}
}

type selfDescribing struct{ id string }

func (s selfDescribing) GenAIResponse() genai.Response {
	return genai.Response{ID: s.id, Usage: &genai.Usage{InputTokens: 1, OutputTokens: 2}}
}

func TestWrapResponseSource(t *testing.T) {
	cfg, rec := wrapConfig(t)
	_, err := genai.Wrap(context.Background(), cfg, genai.Request{Provider: "example"},
		func(context.Context) (selfDescribing, error) { return selfDescribing{id: "self-1"}, nil })
	if err != nil {
		t.Fatal(err)
	}
	a := attrMap(onlyEnded(t, rec))
	if got := a["gen_ai.response.id"].AsString(); got != "self-1" {
		t.Errorf("gen_ai.response.id = %q, want self-1", got)
	}
	if got := a["gen_ai.usage.output_tokens"].AsInt64(); got != 2 {
		t.Errorf("gen_ai.usage.output_tokens = %d, want 2", got)
	}
}

func TestWrapError(t *testing.T) {
	cfg, rec := wrapConfig(t)
	callErr := &genai.HTTPError{StatusCode: 429, Type: "rate_limit_error", RetryAfter: "3"}
	called := false
	_, err := genai.Wrap(context.Background(), cfg, genai.Request{Provider: "example", Model: "model"},
		func(context.Context) (*reply, error) { return nil, callErr },
		func(*reply) genai.Response { called = true; return genai.Response{} })
	if !errors.Is(err, callErr) {
		t.Fatalf("error = %v, want the call's error", err)
	}
	if called {
		t.Error("extractor ran for a failed call")
	}
	s := onlyEnded(t, rec)
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v, want Error", s.Status())
	}
	if got := attrMap(s)["error.type"].AsString(); got != "rate_limit_error" {
		t.Errorf("error.type = %q, want rate_limit_error", got)
	}
}

func TestWrapPanic(t *testing.T) {
	cfg, rec := wrapConfig(t)
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the call's panic value", p)
			}
		}()
		genai.Wrap(context.Background(), cfg, genai.Request{Provider: "example"},
			func(context.Context) (int, error) { panic("boom") })
	}()
	s := onlyEnded(t, rec)
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v, want Error", s.Status())
	}
	if got := attrMap(s)["error.type"].AsString(); got != "panic" {
		t.Errorf("error.type = %q, want panic", got)
	}
}
