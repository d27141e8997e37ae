package otelopenai

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bijotel/bijotel-go/genai"
)

// startCall returns a call recorded into a fresh span recorder.
func startCall(t *testing.T) (*genai.Call, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	cfg, err := genai.NewConfig(genai.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	_, call := cfg.Start(context.Background(), genai.Request{Provider: "openai", Operation: genai.OperationChat, Model: "m"})
	return call, rec
}

func endedSpan(t *testing.T, rec *tracetest.SpanRecorder) (sdktrace.ReadOnlySpan, map[attribute.Key]attribute.Value) {
	t.Helper()
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("ended spans = %d, want 1", len(spans))
	}
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range spans[0].Attributes() {
		m[kv.Key] = kv.Value
	}
	return spans[0], m
}

// failingReader returns its data, then err.
type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestBodyEndsWithoutDone(t *testing.T) {
	call, rec := startCall(t)
	b := newBody(context.Background(), io.NopCloser(strings.NewReader(
		"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n")), call, &chatStream{}, true)
	io.ReadAll(b)
	b.Close()

	s, a := endedSpan(t, rec)
	if !a["bijotel.response.incomplete"].AsBool() {
		t.Error("bijotel.response.incomplete is not true")
	}
	if got := a["bijotel.response.incomplete_reason"].AsString(); got != "response ended before its final event" {
		t.Errorf("reason = %q", got)
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v, want Unset", s.Status())
	}
}

// Some OpenAI-compatible providers end the body without [DONE]; a finish
// reason on every choice completes the stream at the end of the body.
func TestBodyEndsAfterFinishReason(t *testing.T) {
	call, rec := startCall(t)
	b := newBody(context.Background(), io.NopCloser(strings.NewReader(
		"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n")), call, &chatStream{}, true)
	io.ReadAll(b)
	b.Close()

	_, a := endedSpan(t, rec)
	if _, ok := a["bijotel.response.incomplete"]; ok {
		t.Error("bijotel.response.incomplete present for a finished stream")
	}
}

func TestBodyReadError(t *testing.T) {
	call, rec := startCall(t)
	readErr := errors.New("connection reset by peer")
	b := newBody(context.Background(), io.NopCloser(&failingReader{
		data: "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n", err: readErr}), call, &chatStream{}, true)
	if _, err := io.ReadAll(b); !errors.Is(err, readErr) {
		t.Fatalf("read error = %v, want %v", err, readErr)
	}
	b.Close()

	s, a := endedSpan(t, rec)
	if s.Status().Code != codes.Error || s.Status().Description != readErr.Error() {
		t.Errorf("status = %v, want Error %q", s.Status(), readErr)
	}
	if got := a["gen_ai.response.id"].AsString(); got != "c1" {
		t.Errorf("gen_ai.response.id = %q, want c1", got)
	}
}

func TestBodyInBandErrors(t *testing.T) {
	tests := []struct {
		name     string
		acc      accumulator
		body     string
		wantType string
	}{
		{"chat error chunk", &chatStream{},
			"data: {\"error\":{\"type\":\"server_error\",\"message\":\"overloaded\"}}\n\n", "server_error"},
		{"responses failed", &responsesStream{},
			"event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"r1\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\"}}}\n\n", "server_error"},
		{"responses error event", &responsesStream{},
			"event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}\n\n", "rate_limit_exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, rec := startCall(t)
			b := newBody(context.Background(), io.NopCloser(strings.NewReader(tt.body)), call, tt.acc, true)
			io.ReadAll(b)
			b.Close()

			s, a := endedSpan(t, rec)
			if s.Status().Code != codes.Error {
				t.Errorf("status = %v, want Error", s.Status())
			}
			if got := a["error.type"].AsString(); got != tt.wantType {
				t.Errorf("error.type = %q, want %q", got, tt.wantType)
			}
		})
	}
}

// Close racing with Read, and Close called twice, still end one span.
func TestBodyConcurrentCloseOneSpan(t *testing.T) {
	call, rec := startCall(t)
	pr, pw := io.Pipe()
	b := newBody(context.Background(), pr, call, &chatStream{}, true)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.ReadAll(b)
	}()
	pw.Write([]byte("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"))
	b.Close()
	b.Close()
	pw.Close()
	wg.Wait()

	endedSpan(t, rec)
}

func TestContentPartsImages(t *testing.T) {
	parts := contentParts([]byte(`[{"type":"text","text":"What is this?"},` +
		`{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}},` +
		`{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},` +
		`{"type":"input_image","image_url":"https://example.com/dog.png"},` +
		`{"type":"input_file","file_id":"file-1"}]`))
	want := []genai.Part{
		genai.TextPart("What is this?"),
		{"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"},
		{"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="},
		{"type": "uri", "modality": "image", "uri": "https://example.com/dog.png"},
		{"type": "input_file"},
	}
	if len(parts) != len(want) {
		t.Fatalf("parts = %v, want %v", parts, want)
	}
	for i := range want {
		for k, v := range want[i] {
			if parts[i][k] != v {
				t.Errorf("part %d %s = %v, want %v", i, k, parts[i][k], v)
			}
		}
	}
}

func TestChatResponseDropsEmptyTextBesideToolCalls(t *testing.T) {
	resp, ok := chatResponse([]byte(`{"id":"chatcmpl-1","model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}}]}`))
	if !ok || len(resp.Messages) != 1 {
		t.Fatalf("chatResponse = %+v, %v; want one message", resp, ok)
	}
	parts := resp.Messages[0].Parts
	if len(parts) != 1 || parts[0]["type"] != "tool_call" {
		t.Errorf("parts = %v, want only the tool call", parts)
	}
}
