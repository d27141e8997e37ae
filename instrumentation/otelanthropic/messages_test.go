package otelanthropic_test

import (
	"context"
	"errors"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/fakeprovider"
)

func helloParams(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 256,
		System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello."))},
	}
}

func weatherTool() anthropic.ToolUnionParam {
	return anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
		Name:        "get_weather",
		Description: anthropic.String("Current weather for a city."),
		InputSchema: anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"location": map[string]any{"type": "string"}},
			Required:   []string{"location"},
		},
	}}
}

const (
	helloInput  = `[{"role":"user","parts":[{"type":"text","content":"Say hello."}]}]`
	helloOutput = `[{"role":"assistant","parts":[{"type":"text","content":"` + fakeprovider.AnthropicReplyText + `"}]}]`
	toolDefs    = `[{"type":"function","name":"get_weather","description":"Current weather for a city.","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]`
	// The fake's input_tokens exclude the cache counts; the SDK's span
	// records their sum, as gen_ai.usage.input_tokens requires.
	wantInputTokens = fakeprovider.AnthropicInputTokens + fakeprovider.AnthropicCacheReadInputTokens + fakeprovider.AnthropicCacheCreationInputTokens
)

func toolOutput(id string) string {
	return `[{"role":"assistant","parts":[{"type":"text","content":"` + fakeprovider.AnthropicToolText + `"},{"type":"tool_call","id":"` + id + `","name":"get_weather","arguments":` + fakeprovider.AnthropicToolInput + `}]}]`
}

// wantHelloSpan checks the attributes common to a plain and a streamed
// reply to helloParams.
func wantHelloSpan(t *testing.T, s sdktrace.ReadOnlySpan) {
	t.Helper()
	if s.Name() != "anthropic.messages.create" {
		t.Errorf("span name = %q, want anthropic.messages.create", s.Name())
	}
	wantString(t, s, "gen_ai.provider.name", "anthropic")
	wantString(t, s, "gen_ai.operation.name", "chat")
	wantString(t, s, "gen_ai.request.model", "claude-sonnet-4-5")
	wantInt(t, s, "gen_ai.request.max_tokens", 256)
	wantString(t, s, "gen_ai.response.id", "msg_fake_0001")
	wantString(t, s, "gen_ai.response.model", "claude-sonnet-4-5")
	wantStrings(t, s, "gen_ai.response.finish_reasons", "end_turn")
	wantInt(t, s, "gen_ai.usage.input_tokens", wantInputTokens)
	wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.AnthropicOutputTokens)
	wantInt(t, s, "gen_ai.usage.cache_read.input_tokens", fakeprovider.AnthropicCacheReadInputTokens)
	wantInt(t, s, "gen_ai.usage.cache_creation.input_tokens", fakeprovider.AnthropicCacheCreationInputTokens)
	wantBool(t, s, "bijotel.usage.missing", false)
	wantString(t, s, "bijotel.instrumentation", "sdk")
	wantJSON(t, s, "gen_ai.system_instructions", `[{"type":"text","content":"Be brief."}]`)
	wantJSON(t, s, "gen_ai.input.messages", helloInput)
	wantJSON(t, s, "gen_ai.output.messages", helloOutput)
	wantAbsent(t, s, "error.type", "bijotel.response.incomplete")
	if !bijotel.DefaultFilter(ptr(bijotel.SpanFromSDK(s))) {
		t.Error("bijotel.DefaultFilter rejects the SDK's span")
	}
}

func ptr[T any](v T) *T { return &v }

func TestMessagesPlain(t *testing.T) {
	h := newHarness(t)
	m, err := h.client.Messages.New(context.Background(), helloParams("claude-sonnet-4-5"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Content[0].Text; got != fakeprovider.AnthropicReplyText {
		t.Errorf("reply = %q, want %q", got, fakeprovider.AnthropicReplyText)
	}
	wantHelloSpan(t, h.onlySpan(t))
}

func TestMessagesStream(t *testing.T) {
	h := newHarness(t)
	stream := h.client.Messages.NewStreaming(context.Background(), helloParams("claude-sonnet-4-5"))
	var text string
	for stream.Next() {
		if e := stream.Current(); e.Type == "content_block_delta" {
			text += e.Delta.Text
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if text != fakeprovider.AnthropicReplyText {
		t.Errorf("streamed text = %q, want %q", text, fakeprovider.AnthropicReplyText)
	}

	s := h.onlySpan(t)
	wantHelloSpan(t, s)
	wantBool(t, s, "gen_ai.request.stream", true)
}

func TestMessagesToolCall(t *testing.T) {
	for _, streamed := range []bool{false, true} {
		name := "plain"
		if streamed {
			name = "streamed"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			params := helloParams("claude-sonnet-4-5")
			params.Tools = []anthropic.ToolUnionParam{weatherTool()}
			if streamed {
				stream := h.client.Messages.NewStreaming(context.Background(), params)
				for stream.Next() {
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
				stream.Close()
			} else if _, err := h.client.Messages.New(context.Background(), params); err != nil {
				t.Fatal(err)
			}

			s := h.onlySpan(t)
			wantJSON(t, s, "gen_ai.tool.definitions", toolDefs)
			wantJSON(t, s, "gen_ai.output.messages", toolOutput("toolu_fake_0001"))
			wantStrings(t, s, "gen_ai.response.finish_reasons", "tool_use")
			wantAbsent(t, s, "bijotel.response.incomplete")
		})
	}
}

func TestMessagesErrors(t *testing.T) {
	tests := []struct {
		model      string
		status     int
		wantType   string
		retryAfter bool
	}{
		{fakeprovider.ModelRateLimited, 429, "rate_limit_error", true},
		{fakeprovider.ModelOverloaded, 529, "overloaded_error", false},
		{fakeprovider.ModelServerError, 500, "api_error", false},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			h := newHarness(t)
			_, err := h.client.Messages.New(context.Background(), helloParams(tt.model))
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status {
				t.Fatalf("error = %v, want an *anthropic.Error with status %d", err, tt.status)
			}
			s := h.onlySpan(t)
			if s.Status().Code != codes.Error {
				t.Errorf("status = %v, want Error", s.Status())
			}
			wantString(t, s, "error.type", tt.wantType)
			wantInt(t, s, "http.response.status_code", int64(tt.status))
			wantBool(t, s, "bijotel.usage.missing", true)
			wantAbsent(t, s, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
			if tt.retryAfter {
				wantStrings(t, s, "http.response.header.retry-after", fakeprovider.AnthropicRetryAfter)
			}
		})
	}
}

// Without WithContent (and without the environment variable) the SDK's
// spans carry no prompts or completions.
func TestMessagesMetadataOnly(t *testing.T) {
	t.Setenv("ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE", "")
	h := newHarness(t, option.WithOpenTelemetryTracesContentMode(option.OpenTelemetryContentModeMetadataOnly))
	if _, err := h.client.Messages.New(context.Background(), helloParams("claude-sonnet-4-5")); err != nil {
		t.Fatal(err)
	}
	s := h.onlySpan(t)
	wantAbsent(t, s, "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")
	wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.AnthropicOutputTokens)
}

// The SDK alone, with neither Middleware nor a TracerProvider option,
// records one span per call through the global TracerProvider, and
// bijotel.DefaultFilter accepts it.
func TestSDKSpansReachGlobalProvider(t *testing.T) {
	srv, err := fakeprovider.NewAnthropic()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	defer otel.SetTracerProvider(prev)

	client := anthropic.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("test-key"), option.WithMaxRetries(0))
	if _, err := client.Messages.New(context.Background(), helloParams("claude-sonnet-4-5")); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("ended spans = %d, want 1", len(spans))
	}
	s := spans[0]
	wantString(t, s, "gen_ai.provider.name", "anthropic")
	wantString(t, s, "gen_ai.response.id", "msg_fake_0001")
	if !bijotel.DefaultFilter(ptr(bijotel.SpanFromSDK(s))) {
		t.Error("bijotel.DefaultFilter rejects the SDK's span")
	}
}

// A stream closed before message_stop is one span. The SDK ends it inside
// Close, so it has the input count but no output count, and usage stays
// marked missing.
func TestMessagesStreamClosedEarly(t *testing.T) {
	h := newHarness(t)
	stream := h.client.Messages.NewStreaming(context.Background(), helloParams("claude-sonnet-4-5"),
		option.WithHeader(fakeprovider.HeaderHoldAfter, "4"))
	for range 3 {
		if !stream.Next() {
			t.Fatalf("stream ended early: %v", stream.Err())
		}
	}
	stream.Close()

	s := h.onlySpan(t)
	wantString(t, s, "gen_ai.response.id", "msg_fake_0001")
	wantBool(t, s, "bijotel.usage.missing", true)
	wantAbsent(t, s, "gen_ai.usage.output_tokens", "gen_ai.response.finish_reasons", "error.type")
}

// The SDK records a retried call as one span; Middleware runs per attempt
// and leaves the Retry-After of the failed attempt on it.
func TestMessagesRetryOneSpan(t *testing.T) {
	h := newHarness(t)
	_, err := h.client.Messages.New(context.Background(), helloParams(fakeprovider.ModelRateLimited), option.WithMaxRetries(1))
	if err == nil {
		t.Fatal("error = nil, want the rate-limit error")
	}
	if n := len(h.srv.Requests()); n != 2 {
		t.Fatalf("requests = %d, want 2", n)
	}
	s := h.onlySpan(t)
	wantInt(t, s, "http.request.resend_count", 1)
	wantString(t, s, "error.type", "rate_limit_error")
	wantStrings(t, s, "http.response.header.retry-after", fakeprovider.AnthropicRetryAfter)
}
