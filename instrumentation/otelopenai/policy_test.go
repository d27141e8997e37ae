package otelopenai_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/bijotel/bijotel-go/fakeprovider"
	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelopenai"
)

// providers are the two ways the tests reach an OpenAI-style API: OpenAI
// itself, and an OpenAI-compatible provider (Groq) under its own base path
// with the provider name set.
var providers = []struct {
	name     string
	prefix   string
	opts     []genai.Option
	provider string
}{
	{"openai", "/v1/", nil, "openai"},
	{"groq", "/openai/v1/", []genai.Option{genai.WithProviderName("groq")}, "groq"},
}

// toolHistory is a conversation that already holds a tool call and its
// result, so that the policy applies to arguments and responses too.
func toolHistory() openai.ChatCompletionNewParams {
	assistant := openai.ChatCompletionAssistantMessageParam{
		ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{
			OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
				ID: "call_1",
				Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{
					Name: "get_weather", Arguments: `{"location":"Paris"}`,
				},
			},
		}},
	}
	return openai.ChatCompletionNewParams{
		Model: "llama-3.3-70b-versatile",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.UserMessage("Weather in Paris?"),
			{OfAssistant: &assistant},
			openai.ToolMessage("18 degrees, clear", "call_1"),
		},
	}
}

func TestCompatibleProvider(t *testing.T) {
	h := newHarness(t, "/openai/v1/", genai.WithProviderName("groq"))
	params := chatParams("llama-3.3-70b-versatile")
	params.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
	if _, err := h.client.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	if path := h.srv.Requests()[0].Path; path != "/openai/v1/chat/completions" {
		t.Errorf("request path = %s, want /openai/v1/chat/completions", path)
	}
	s := h.onlySpan(t)
	wantString(t, s, "gen_ai.provider.name", "groq")
	wantString(t, s, "gen_ai.request.model", "llama-3.3-70b-versatile")
	wantJSON(t, s, "gen_ai.output.messages", toolOutput)
	wantJSON(t, s, "gen_ai.tool.definitions", toolDefs)
}

func TestProviderForHost(t *testing.T) {
	tests := map[string]string{
		"api.openai.com":            "openai",
		"api.x.ai":                  "x_ai",
		"api.together.xyz":          "together",
		"api.deepseek.com":          "deepseek",
		"api.mistral.ai":            "mistral_ai",
		"API.GROQ.COM":              "groq",
		"my-res.openai.azure.com":   "azure.ai.openai",
		"127.0.0.1":                 "openai",
		"localhost":                 "openai",
		"llm-gateway.example.local": "openai",
	}
	for host, want := range tests {
		if got := otelopenai.ProviderForHost(host); got != want {
			t.Errorf("ProviderForHost(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestMiddlewareInvalidOption(t *testing.T) {
	h := newHarness(t, "/v1/", genai.WithContentMode(genai.ContentMode(9)))
	_, err := h.client.Chat.Completions.New(context.Background(), chatParams("gpt-4o-mini"))
	if err == nil || !strings.Contains(err.Error(), "invalid content mode") {
		t.Fatalf("error = %v, want the invalid content mode error", err)
	}
	if n := len(h.srv.Requests()); n != 0 {
		t.Errorf("requests sent = %d, want 0", n)
	}
}

func TestContentHash(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			h := newHarness(t, p.prefix, append(p.opts, genai.WithContentMode(genai.HashContent))...)
			if _, err := h.client.Chat.Completions.New(context.Background(), toolHistory()); err != nil {
				t.Fatal(err)
			}
			s := h.onlySpan(t)
			wantString(t, s, "gen_ai.provider.name", p.provider)
			wantString(t, s, "bijotel.content.mode", "hash")

			input := attrs(s)["gen_ai.input.messages"].AsString()
			for _, secret := range []string{"Weather in Paris?", "18 degrees", `"location"`} {
				if strings.Contains(input, secret) {
					t.Errorf("gen_ai.input.messages contains %q under hash mode: %s", secret, input)
				}
			}
			want := `[` +
				`{"parts":[{"content_sha256":"` + genai.HashText("Weather in Paris?") + `","type":"text"}],"role":"user"},` +
				`{"parts":[{"arguments_sha256":"` + genai.HashValue(map[string]any{"location": "Paris"}) + `","id":"call_1","name":"get_weather","type":"tool_call"}],"role":"assistant"},` +
				`{"parts":[{"id":"call_1","response_sha256":"` + genai.HashText("18 degrees, clear") + `","type":"tool_call_response"}],"role":"tool"}]`
			if input != want {
				t.Errorf("gen_ai.input.messages =\n%s\nwant\n%s", input, want)
			}
			output := attrs(s)["gen_ai.output.messages"].AsString()
			if !strings.Contains(output, genai.HashText(fakeprovider.OpenAIReplyText)) || strings.Contains(output, fakeprovider.OpenAIReplyText) {
				t.Errorf("gen_ai.output.messages = %s, want the hash of the reply and not its text", output)
			}
		})
	}
}

func TestContentOmit(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			h := newHarness(t, p.prefix, append(p.opts, genai.WithContentMode(genai.OmitContent))...)
			if _, err := h.client.Chat.Completions.New(context.Background(), toolHistory()); err != nil {
				t.Fatal(err)
			}
			s := h.onlySpan(t)
			wantString(t, s, "bijotel.content.mode", "omit")
			wantAbsent(t, s, "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")
			wantInt(t, s, "gen_ai.usage.input_tokens", fakeprovider.OpenAIInputTokens)
			wantString(t, s, "gen_ai.response.id", "chatcmpl-fake-0001")
		})
	}
}

func TestContentSizeCap(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			h := newHarness(t, p.prefix, append(p.opts, genai.WithMaxContentBytes(7))...)
			if _, err := h.client.Chat.Completions.New(context.Background(), toolHistory()); err != nil {
				t.Fatal(err)
			}
			s := h.onlySpan(t)
			var msgs []struct {
				Parts []map[string]any `json:"parts"`
			}
			if err := json.Unmarshal([]byte(attrs(s)["gen_ai.input.messages"].AsString()), &msgs); err != nil {
				t.Fatal(err)
			}
			part := msgs[0].Parts[0]
			if part["content"] != "Weather" {
				t.Errorf("content = %v, want %q", part["content"], "Weather")
			}
			if part["truncated"] != true {
				t.Errorf("truncated = %v, want true", part["truncated"])
			}
			if part["original_length"] != float64(len("Weather in Paris?")) {
				t.Errorf("original_length = %v, want %d", part["original_length"], len("Weather in Paris?"))
			}
			if part["content_sha256"] != genai.HashText("Weather in Paris?") {
				t.Errorf("content_sha256 = %v, want the hash of the whole text", part["content_sha256"])
			}
		})
	}
}

// The compatible provider gets the same records as OpenAI for each kind of
// call, under its own provider name.
func TestCompatibleProviderCalls(t *testing.T) {
	type outcome struct {
		errorType string
		finish    string
	}
	calls := map[string]struct {
		run  func(h *harness) error
		want outcome
	}{
		"plain": {func(h *harness) error {
			_, err := h.client.Chat.Completions.New(context.Background(), chatParams("llama-3.3-70b-versatile"))
			return err
		}, outcome{finish: "stop"}},
		"streamed": {func(h *harness) error {
			p := chatParams("llama-3.3-70b-versatile")
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			s := h.client.Chat.Completions.NewStreaming(context.Background(), p)
			for s.Next() {
			}
			s.Close()
			return s.Err()
		}, outcome{finish: "stop"}},
		"tool call": {func(h *harness) error {
			p := chatParams("llama-3.3-70b-versatile")
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
			_, err := h.client.Chat.Completions.New(context.Background(), p)
			return err
		}, outcome{finish: "tool_calls"}},
		"rate limited": {func(h *harness) error {
			_, err := h.client.Chat.Completions.New(context.Background(), chatParams(fakeprovider.ModelRateLimited))
			return err
		}, outcome{errorType: "requests"}},
		"server error": {func(h *harness) error {
			_, err := h.client.Chat.Completions.New(context.Background(), chatParams(fakeprovider.ModelServerError))
			return err
		}, outcome{errorType: "server_error"}},
	}
	for name, c := range calls {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, "/openai/v1/", genai.WithProviderName("groq"))
			err := c.run(h)
			switch {
			case c.want.errorType == "" && err != nil:
				t.Fatal(err)
			case c.want.errorType != "" && err == nil:
				t.Fatal("error = nil, want an API error")
			}

			s := h.onlySpan(t)
			wantString(t, s, "gen_ai.provider.name", "groq")
			if c.want.errorType != "" {
				wantString(t, s, "error.type", c.want.errorType)
				wantNoUsage(t, s)
				return
			}
			wantStrings(t, s, "gen_ai.response.finish_reasons", c.want.finish)
			wantInt(t, s, "gen_ai.usage.input_tokens", fakeprovider.OpenAIInputTokens)
			wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.OpenAIOutputTokens)
			wantString(t, s, "gen_ai.response.id", "chatcmpl-fake-0001")
		})
	}
}
