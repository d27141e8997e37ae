package otelopenai_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"go.opentelemetry.io/otel/codes"

	"github.com/bijotel/bijotel-go/fakeprovider"
)

func chatParams(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."),
			openai.UserMessage("Say hello."),
		},
		MaxCompletionTokens: openai.Int(64),
		Temperature:         openai.Float(0.5),
		TopP:                openai.Float(0.9),
		Seed:                openai.Int(7),
		Stop:                openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"END"}},
	}
}

func weatherTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("Current weather for a city."),
		Parameters: shared.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"location": map[string]any{"type": "string"}, "unit": map[string]any{"type": "string"}},
			"required":   []string{"location"},
		},
	})
}

const (
	helloInput  = `[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},{"role":"user","parts":[{"type":"text","content":"Say hello."}]}]`
	helloOutput = `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"` + fakeprovider.OpenAIReplyText + `"}]}]`
	toolOutput  = `[{"role":"assistant","finish_reason":"tool_call","parts":[{"type":"tool_call","id":"call_fake_0001","name":"get_weather","arguments":` + fakeprovider.OpenAIToolArguments + `}]}]`
	toolDefs    = `[{"type":"function","name":"get_weather","description":"Current weather for a city.","parameters":{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string"}},"required":["location"]}}]`
)

func TestChatPlain(t *testing.T) {
	h := newHarness(t, "/v1/")
	c, err := h.client.Chat.Completions.New(context.Background(), chatParams("gpt-4o-mini"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Choices[0].Message.Content; got != fakeprovider.OpenAIReplyText {
		t.Errorf("reply = %q, want %q", got, fakeprovider.OpenAIReplyText)
	}

	s := h.onlySpan(t)
	if s.Name() != "chat gpt-4o-mini" {
		t.Errorf("span name = %q, want %q", s.Name(), "chat gpt-4o-mini")
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v, want Unset", s.Status())
	}
	wantString(t, s, "gen_ai.provider.name", "openai")
	wantString(t, s, "gen_ai.operation.name", "chat")
	wantString(t, s, "gen_ai.request.model", "gpt-4o-mini")
	wantInt(t, s, "gen_ai.request.max_tokens", 64)
	wantInt(t, s, "gen_ai.request.seed", 7)
	wantStrings(t, s, "gen_ai.request.stop_sequences", "END")
	wantString(t, s, "gen_ai.response.id", "chatcmpl-fake-0001")
	wantString(t, s, "gen_ai.response.model", "gpt-4o-mini")
	wantStrings(t, s, "gen_ai.response.finish_reasons", "stop")
	wantInt(t, s, "gen_ai.usage.input_tokens", fakeprovider.OpenAIInputTokens)
	wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.OpenAIOutputTokens)
	wantInt(t, s, "gen_ai.usage.cache_read.input_tokens", fakeprovider.OpenAICachedInputTokens)
	wantBool(t, s, "bijotel.usage.missing", false)
	wantJSON(t, s, "gen_ai.input.messages", helloInput)
	wantJSON(t, s, "gen_ai.output.messages", helloOutput)
	wantString(t, s, "bijotel.instrumentation", "middleware")
	wantString(t, s, "bijotel.content.mode", "capture")
	wantString(t, s, "server.address", "127.0.0.1")
	wantInt(t, s, "http.response.status_code", 200)
	wantAbsent(t, s, "error.type", "bijotel.response.incomplete", "gen_ai.request.stream")
	if v := attrs(s)["gen_ai.request.temperature"]; v.AsFloat64() != 0.5 {
		t.Errorf("gen_ai.request.temperature = %s, want 0.5", v.Emit())
	}
}

func TestChatStreamWithUsage(t *testing.T) {
	h := newHarness(t, "/v1/")
	params := chatParams("gpt-4o-mini")
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), params)
	var text string
	for stream.Next() {
		if ch := stream.Current().Choices; len(ch) > 0 {
			text += ch[0].Delta.Content
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if text != fakeprovider.OpenAIReplyText {
		t.Errorf("streamed text = %q, want %q", text, fakeprovider.OpenAIReplyText)
	}

	s := h.onlySpan(t)
	wantBool(t, s, "gen_ai.request.stream", true)
	wantString(t, s, "gen_ai.response.id", "chatcmpl-fake-0001")
	wantStrings(t, s, "gen_ai.response.finish_reasons", "stop")
	wantInt(t, s, "gen_ai.usage.input_tokens", fakeprovider.OpenAIInputTokens)
	wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.OpenAIOutputTokens)
	wantInt(t, s, "gen_ai.usage.cache_read.input_tokens", fakeprovider.OpenAICachedInputTokens)
	wantBool(t, s, "bijotel.usage.missing", false)
	wantJSON(t, s, "gen_ai.output.messages", helloOutput)
	wantAbsent(t, s, "bijotel.response.incomplete", "error.type")
}

func TestChatStreamWithoutUsage(t *testing.T) {
	h := newHarness(t, "/v1/")
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), chatParams("gpt-4o-mini"))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()

	s := h.onlySpan(t)
	wantNoUsage(t, s)
	wantStrings(t, s, "gen_ai.response.finish_reasons", "stop")
	wantJSON(t, s, "gen_ai.output.messages", helloOutput)
	wantAbsent(t, s, "bijotel.response.incomplete")
}

func TestChatToolCall(t *testing.T) {
	h := newHarness(t, "/v1/")
	params := chatParams("gpt-4o-mini")
	params.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
	c, err := h.client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Choices[0].Message.ToolCalls); n != 1 {
		t.Fatalf("tool calls = %d, want 1", n)
	}

	s := h.onlySpan(t)
	wantJSON(t, s, "gen_ai.tool.definitions", toolDefs)
	wantJSON(t, s, "gen_ai.output.messages", toolOutput)
	wantStrings(t, s, "gen_ai.response.finish_reasons", "tool_calls")
}

func TestChatToolCallStreamed(t *testing.T) {
	h := newHarness(t, "/v1/")
	params := chatParams("gpt-4o-mini")
	params.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if got := acc.Choices[0].Message.ToolCalls[0].Function.Arguments; got != fakeprovider.OpenAIToolArguments {
		t.Errorf("SDK accumulated arguments = %q, want %q", got, fakeprovider.OpenAIToolArguments)
	}

	s := h.onlySpan(t)
	wantJSON(t, s, "gen_ai.tool.definitions", toolDefs)
	wantJSON(t, s, "gen_ai.output.messages", toolOutput)
	wantStrings(t, s, "gen_ai.response.finish_reasons", "tool_calls")
	wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.OpenAIOutputTokens)
}

// A stream abandoned inside the tool arguments keeps the fragments that
// arrived as a string, never as {}.
func TestChatToolCallCutOff(t *testing.T) {
	h := newHarness(t, "/v1/")
	params := chatParams("gpt-4o-mini")
	params.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
	// The fake sends the role chunk, then three argument fragments; hold
	// after the first fragment.
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), params, option.WithHeader(fakeprovider.HeaderHoldAfter, "2"))
	for range 2 {
		if !stream.Next() {
			t.Fatalf("stream ended early: %v", stream.Err())
		}
	}
	stream.Close()

	s := h.onlySpan(t)
	v := attrs(s)["gen_ai.output.messages"].AsString()
	first := fakeprovider.OpenAIToolArguments[:len(fakeprovider.OpenAIToolArguments)/3+1]
	want := `[{"parts":[{"arguments":` + strconv.Quote(first) + `,"id":"call_fake_0001","name":"get_weather","type":"tool_call"}],"role":"assistant"}]`
	if v != want {
		t.Errorf("gen_ai.output.messages =\n%s\nwant\n%s", v, want)
	}
	wantBool(t, s, "bijotel.response.incomplete", true)
	wantNoUsage(t, s)
}

func TestChatRateLimited(t *testing.T) {
	h := newHarness(t, "/v1/")
	_, err := h.client.Chat.Completions.New(context.Background(), chatParams(fakeprovider.ModelRateLimited))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Fatalf("error = %v, want an *openai.Error with status 429", err)
	}

	s := h.onlySpan(t)
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v, want Error", s.Status())
	}
	wantString(t, s, "error.type", "requests")
	wantInt(t, s, "http.response.status_code", 429)
	wantStrings(t, s, "http.response.header.retry-after", fakeprovider.OpenAIRetryAfter)
	wantString(t, s, "gen_ai.request.model", fakeprovider.ModelRateLimited)
	wantNoUsage(t, s)
}

func TestChatServerError(t *testing.T) {
	h := newHarness(t, "/v1/")
	_, err := h.client.Chat.Completions.New(context.Background(), chatParams(fakeprovider.ModelServerError))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 {
		t.Fatalf("error = %v, want an *openai.Error with status 500", err)
	}

	s := h.onlySpan(t)
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v, want Error", s.Status())
	}
	wantString(t, s, "error.type", "server_error")
	wantInt(t, s, "http.response.status_code", 500)
	wantNoUsage(t, s)
}

// openai-go runs middleware once per HTTP attempt, so a retried call has
// one span per attempt, and the retries carry http.request.resend_count.
func TestChatRetriesOneSpanPerAttempt(t *testing.T) {
	h := newHarness(t, "/v1/")
	_, err := h.client.Chat.Completions.New(context.Background(), chatParams(fakeprovider.ModelRateLimited), option.WithMaxRetries(1))
	if err == nil {
		t.Fatal("error = nil, want the rate-limit error")
	}
	if err := h.tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := h.rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("ended spans = %d, want 2", len(spans))
	}
	wantAbsent(t, spans[0], "http.request.resend_count")
	wantInt(t, spans[1], "http.request.resend_count", 1)
	for _, s := range spans {
		wantString(t, s, "error.type", "requests")
	}
}

func TestChatTransportError(t *testing.T) {
	h := newHarness(t, "/v1/")
	h.srv.Close()
	_, err := h.client.Chat.Completions.New(context.Background(), chatParams("gpt-4o-mini"))
	if err == nil {
		t.Fatal("error = nil, want a connection error")
	}
	s := h.onlySpan(t)
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v, want Error", s.Status())
	}
	if _, ok := attrs(s)["error.type"]; !ok {
		t.Error("error.type missing")
	}
}
