package otelopenai_test

import (
	"context"
	"errors"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"go.opentelemetry.io/otel/codes"

	"github.com/bijotel/bijotel-go/fakeprovider"
)

func responsesParams(model string) responses.ResponseNewParams {
	return responses.ResponseNewParams{
		Model:           model,
		Instructions:    openai.String("Be brief."),
		Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello.")},
		MaxOutputTokens: openai.Int(64),
		Temperature:     openai.Float(0.2),
	}
}

func responsesWeatherTool() responses.ToolUnionParam {
	return responses.ToolUnionParam{OfFunction: &responses.FunctionToolParam{
		Name:        "get_weather",
		Description: openai.String("Current weather for a city."),
		Strict:      openai.Bool(false),
		Parameters: map[string]any{
			"type":       "object",
			"properties": map[string]any{"location": map[string]any{"type": "string"}, "unit": map[string]any{"type": "string"}},
			"required":   []string{"location"},
		},
	}}
}

const (
	responsesInput      = `[{"role":"user","parts":[{"type":"text","content":"Say hello."}]}]`
	responsesSystem     = `[{"type":"text","content":"Be brief."}]`
	responsesOutput     = `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"` + fakeprovider.OpenAIReplyText + `"}]}]`
	responsesToolOutput = `[{"role":"assistant","finish_reason":"tool_call","parts":[{"type":"tool_call","id":"call_fake_0001","name":"get_weather","arguments":` + fakeprovider.OpenAIToolArguments + `}]}]`
	responsesToolDefs   = `[{"type":"function","name":"get_weather","description":"Current weather for a city.","strict":false,"parameters":{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string"}},"required":["location"]}}]`
)

func TestResponsesPlain(t *testing.T) {
	h := newHarness(t, "/v1/")
	r, err := h.client.Responses.New(context.Background(), responsesParams("gpt-4.1-mini"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.OutputText(); got != fakeprovider.OpenAIReplyText {
		t.Errorf("reply = %q, want %q", got, fakeprovider.OpenAIReplyText)
	}

	s := h.onlySpan(t)
	if s.Name() != "chat gpt-4.1-mini" {
		t.Errorf("span name = %q, want %q", s.Name(), "chat gpt-4.1-mini")
	}
	wantString(t, s, "gen_ai.provider.name", "openai")
	wantString(t, s, "gen_ai.operation.name", "chat")
	wantString(t, s, "gen_ai.request.model", "gpt-4.1-mini")
	wantInt(t, s, "gen_ai.request.max_tokens", 64)
	wantString(t, s, "gen_ai.response.id", "resp_fake_0001")
	wantString(t, s, "gen_ai.response.model", "gpt-4.1-mini")
	wantStrings(t, s, "gen_ai.response.finish_reasons", "stop")
	wantInt(t, s, "gen_ai.usage.input_tokens", fakeprovider.OpenAIInputTokens)
	wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.OpenAIOutputTokens)
	wantInt(t, s, "gen_ai.usage.cache_read.input_tokens", fakeprovider.OpenAICachedInputTokens)
	wantInt(t, s, "gen_ai.usage.reasoning.output_tokens", 0)
	wantJSON(t, s, "gen_ai.input.messages", responsesInput)
	wantJSON(t, s, "gen_ai.system_instructions", responsesSystem)
	wantJSON(t, s, "gen_ai.output.messages", responsesOutput)
	wantAbsent(t, s, "error.type", "bijotel.response.incomplete")
}

func TestResponsesStream(t *testing.T) {
	h := newHarness(t, "/v1/")
	stream := h.client.Responses.NewStreaming(context.Background(), responsesParams("gpt-4.1-mini"))
	var text string
	for stream.Next() {
		if e := stream.Current(); e.Type == "response.output_text.delta" {
			text += e.Delta
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
	wantString(t, s, "gen_ai.response.id", "resp_fake_0001")
	wantStrings(t, s, "gen_ai.response.finish_reasons", "stop")
	wantInt(t, s, "gen_ai.usage.input_tokens", fakeprovider.OpenAIInputTokens)
	wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.OpenAIOutputTokens)
	wantJSON(t, s, "gen_ai.output.messages", responsesOutput)
	wantAbsent(t, s, "error.type", "bijotel.response.incomplete")
}

func TestResponsesToolCall(t *testing.T) {
	for _, streamed := range []bool{false, true} {
		name := "plain"
		if streamed {
			name = "streamed"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, "/v1/")
			params := responsesParams("gpt-4.1-mini")
			params.Tools = []responses.ToolUnionParam{responsesWeatherTool()}
			if streamed {
				stream := h.client.Responses.NewStreaming(context.Background(), params)
				for stream.Next() {
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
				stream.Close()
			} else if _, err := h.client.Responses.New(context.Background(), params); err != nil {
				t.Fatal(err)
			}

			s := h.onlySpan(t)
			wantJSON(t, s, "gen_ai.tool.definitions", responsesToolDefs)
			wantJSON(t, s, "gen_ai.output.messages", responsesToolOutput)
			wantStrings(t, s, "gen_ai.response.finish_reasons", "tool_calls")
			wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.OpenAIOutputTokens)
		})
	}
}

// A Responses stream closed before response.completed records the deltas
// that arrived and no usage, because usage arrives only in the final event.
func TestResponsesStreamClosedEarly(t *testing.T) {
	h := newHarness(t, "/v1/")
	stream := h.client.Responses.NewStreaming(context.Background(), responsesParams("gpt-4.1-mini"),
		option.WithHeader(fakeprovider.HeaderHoldAfter, "5"))
	for i := 0; i < 5 && stream.Next(); i++ {
	}
	stream.Close()

	s := h.onlySpan(t)
	wantString(t, s, "gen_ai.response.id", "resp_fake_0001")
	wantJSON(t, s, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"The"}]}]`)
	wantBool(t, s, "bijotel.response.incomplete", true)
	wantNoUsage(t, s)
	wantAbsent(t, s, "gen_ai.response.finish_reasons", "error.type")
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v, want Unset", s.Status())
	}
}

func TestResponsesErrors(t *testing.T) {
	tests := []struct {
		model    string
		status   int
		wantType string
	}{
		{fakeprovider.ModelRateLimited, 429, "requests"},
		{fakeprovider.ModelServerError, 500, "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			h := newHarness(t, "/v1/")
			_, err := h.client.Responses.New(context.Background(), responsesParams(tt.model))
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status {
				t.Fatalf("error = %v, want an *openai.Error with status %d", err, tt.status)
			}
			s := h.onlySpan(t)
			if s.Status().Code != codes.Error {
				t.Errorf("status = %v, want Error", s.Status())
			}
			wantString(t, s, "error.type", tt.wantType)
			wantInt(t, s, "http.response.status_code", int64(tt.status))
			wantNoUsage(t, s)
		})
	}
}
