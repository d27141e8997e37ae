package matrix_test

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bijotel/bijotel-go/fakeprovider"
	"github.com/bijotel/bijotel-go/genai"
)

func TestMain(m *testing.M) {
	// The Bedrock client gets static credentials and loads no shared
	// configuration. This also keeps any credential lookup that might still
	// run away from the instance metadata service.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// callKind is a column of the matrix: what kind of call a cell makes.
type callKind string

const (
	plainCall      callKind = "plain"
	streamCall     callKind = "stream"
	toolCall       callKind = "tool_call"
	streamToolCall callKind = "stream_tool_call"
	// rateLimited calls fakeprovider.ModelRateLimited, which gets HTTP 429
	// with a Retry-After header.
	rateLimited callKind = "error_429"
	// serverError calls fakeprovider.ModelServerError, which gets HTTP 500.
	serverError callKind = "error_5xx"
)

var callKinds = []callKind{plainCall, streamCall, toolCall, streamToolCall, rateLimited, serverError}

func (k callKind) streamed() bool   { return k == streamCall || k == streamToolCall }
func (k callKind) offersTool() bool { return k == toolCall || k == streamToolCall }
func (k callKind) fails() bool      { return k == rateLimited || k == serverError }

// callFunc makes one call of kind k to model through a provider's SDK and
// instrumentation, and returns the SDK's error.
type callFunc func(ctx context.Context, env callEnv, k callKind, model string) error

// provider is a row of the matrix: how to start its fake, how to call it,
// and what its sealed span must contain.
type provider struct {
	name      string
	newServer func() (*fakeprovider.Server, error)
	model     string
	call      callFunc
	want      expectations
}

// expectations are the sealed attributes of one provider's calls.
type expectations struct {
	provider        string
	operation       string
	instrumentation string
	// spanName is the span's fixed name, or "" for the semantic
	// conventions' "{gen_ai.operation.name} {gen_ai.request.model}".
	spanName string
	// contentMode is true when the span records bijotel.content.mode.
	contentMode bool

	// responseID is gen_ai.response.id, or "" when the provider's reply
	// has none and the attribute must be absent.
	responseID string
	// responseModel is true when gen_ai.response.model is recorded. It is
	// then the request model, which the fakes echo.
	responseModel bool
	// finish and toolFinish are gen_ai.response.finish_reasons of a text
	// reply and of a tool call, as the provider sends them.
	finish, toolFinish string
	// messageFinish is true when each output message carries the
	// conventions' finish_reason (stop, tool_call).
	messageFinish bool
	// usage holds the gen_ai.usage.* attributes of every successful call,
	// plain or streamed.
	usage map[string]int64
	// reply is the text of a reply without a tool call.
	reply string
	// toolCallID is the id of the tool_call part ("" when the provider
	// gives tool calls no id).
	toolCallID string

	rateLimitType   string
	serverErrorType string
	// errorDescription is true when a failed call's status description
	// carries the error message, and false when it is empty.
	errorDescription bool
	// httpAttributes is true when a failed call records
	// http.response.status_code and, for a 429,
	// http.response.header.retry-after.
	httpAttributes bool
	retryAfter     string
}

// wantToolArguments is the arguments object of the tool call that every
// fake sends.
var wantToolArguments = map[string]any{"location": "Paris", "unit": "celsius"}

func openAIExpectations(providerName, instrumentation string, httpAttributes bool) expectations {
	return expectations{
		provider:        providerName,
		operation:       genai.OperationChat,
		instrumentation: instrumentation,
		contentMode:     true,
		responseID:      "chatcmpl-fake-0001",
		responseModel:   true,
		finish:          "stop",
		toolFinish:      "tool_calls",
		messageFinish:   true,
		usage: map[string]int64{
			"gen_ai.usage.input_tokens":            fakeprovider.OpenAIInputTokens,
			"gen_ai.usage.output_tokens":           fakeprovider.OpenAIOutputTokens,
			"gen_ai.usage.cache_read.input_tokens": fakeprovider.OpenAICachedInputTokens,
		},
		reply:            fakeprovider.OpenAIReplyText,
		toolCallID:       "call_fake_0001",
		rateLimitType:    "requests",
		serverErrorType:  "server_error",
		errorDescription: true,
		httpAttributes:   httpAttributes,
		retryAfter:       fakeprovider.OpenAIRetryAfter,
	}
}

func providers() []provider {
	return []provider{
		{
			name:      "openai",
			newServer: fakeprovider.NewOpenAI,
			model:     "gpt-4o-mini",
			call:      callOpenAIMiddleware("/v1/"),
			want:      openAIExpectations("openai", "middleware", true),
		},
		{
			// An OpenAI-compatible provider: the same middleware, another
			// base URL path and the provider name set by option.
			name:      "groq",
			newServer: fakeprovider.NewOpenAI,
			model:     "llama-3.3-70b-versatile",
			call:      callOpenAIMiddleware("/openai/v1/", genai.WithProviderName("groq")),
			want:      openAIExpectations("groq", "middleware", true),
		},
		{
			name:      "anthropic",
			newServer: fakeprovider.NewAnthropic,
			model:     "claude-sonnet-4-5",
			call:      callAnthropic,
			want: expectations{
				provider:        "anthropic",
				operation:       genai.OperationChat,
				instrumentation: "sdk",
				// The SDK names its span after the SDK method.
				spanName: "anthropic.messages.create",
				// The SDK's spans have no bijotel content policy.
				contentMode:   false,
				responseID:    "msg_fake_0001",
				responseModel: true,
				finish:        "end_turn",
				toolFinish:    "tool_use",
				messageFinish: false,
				// Anthropic's input_tokens exclude the cache counts, which
				// the span adds. A stream's message_start carries output 1
				// and message_delta the final 9: a sum would give 10.
				usage: map[string]int64{
					"gen_ai.usage.input_tokens":                fakeprovider.AnthropicInputTokens + fakeprovider.AnthropicCacheReadInputTokens + fakeprovider.AnthropicCacheCreationInputTokens,
					"gen_ai.usage.output_tokens":               fakeprovider.AnthropicOutputTokens,
					"gen_ai.usage.cache_read.input_tokens":     fakeprovider.AnthropicCacheReadInputTokens,
					"gen_ai.usage.cache_creation.input_tokens": fakeprovider.AnthropicCacheCreationInputTokens,
				},
				reply:           fakeprovider.AnthropicReplyText,
				toolCallID:      "toolu_fake_0001",
				rateLimitType:   "rate_limit_error",
				serverErrorType: "api_error",
				// The SDK sets status ERROR without a description, so the
				// error message is not sealed.
				errorDescription: false,
				httpAttributes:   true,
				retryAfter:       fakeprovider.AnthropicRetryAfter,
			},
		},
		{
			name:      "gemini",
			newServer: fakeprovider.NewGemini,
			model:     "gemini-2.5-flash",
			call:      callGemini,
			want: expectations{
				provider:        "gcp.gemini",
				operation:       genai.OperationGenerateContent,
				instrumentation: "http_client",
				contentMode:     true,
				responseID:      "fake-gemini-0001",
				responseModel:   true,
				finish:          "STOP",
				toolFinish:      "STOP",
				messageFinish:   true,
				// Every chunk of a stream repeats the cumulative usage: a
				// sum would exceed these counts.
				usage: map[string]int64{
					"gen_ai.usage.input_tokens":  fakeprovider.GeminiInputTokens,
					"gen_ai.usage.output_tokens": fakeprovider.GeminiOutputTokens,
				},
				reply:            fakeprovider.GeminiReplyText,
				toolCallID:       "",
				rateLimitType:    "RESOURCE_EXHAUSTED",
				serverErrorType:  "INTERNAL",
				errorDescription: true,
				httpAttributes:   true,
				retryAfter:       fakeprovider.GeminiRetryAfter,
			},
		},
		{
			name:      "cohere",
			newServer: fakeprovider.NewCohere,
			model:     "command-a-03-2025",
			call:      callCohere,
			want: expectations{
				provider:        "cohere",
				operation:       genai.OperationChat,
				instrumentation: "http_client",
				contentMode:     true,
				responseID:      "fake-cohere-0001",
				// Cohere's replies name no model.
				responseModel: false,
				finish:        "COMPLETE",
				toolFinish:    "TOOL_CALL",
				messageFinish: true,
				usage: map[string]int64{
					"gen_ai.usage.input_tokens":  fakeprovider.CohereInputTokens,
					"gen_ai.usage.output_tokens": fakeprovider.CohereOutputTokens,
				},
				reply:            fakeprovider.CohereReplyText,
				toolCallID:       "get_weather_fake0001",
				rateLimitType:    "429",
				serverErrorType:  "500",
				errorDescription: true,
				httpAttributes:   true,
				retryAfter:       fakeprovider.CohereRetryAfter,
			},
		},
		{
			name:      "bedrock",
			newServer: fakeprovider.NewBedrock,
			model:     "anthropic.claude-3-haiku-20240307-v1:0",
			call:      callBedrock,
			want: expectations{
				provider:        "aws.bedrock",
				operation:       genai.OperationChat,
				instrumentation: "middleware",
				contentMode:     true,
				// Bedrock's replies have no response ID and name no model.
				responseID:    "",
				responseModel: false,
				finish:        "end_turn",
				toolFinish:    "tool_use",
				messageFinish: true,
				usage: map[string]int64{
					"gen_ai.usage.input_tokens":  fakeprovider.BedrockInputTokens,
					"gen_ai.usage.output_tokens": fakeprovider.BedrockOutputTokens,
				},
				reply:            fakeprovider.BedrockReplyText,
				toolCallID:       "tooluse_fake_0001",
				rateLimitType:    "ThrottlingException",
				serverErrorType:  "InternalServerException",
				errorDescription: true,
				httpAttributes:   true,
				retryAfter:       fakeprovider.BedrockRetryAfter,
			},
		},
		{
			// genai.Wrap gets only the call's result or error, so a failed
			// call has error.type but no HTTP attributes.
			name:      "wrap",
			newServer: fakeprovider.NewOpenAI,
			model:     "gpt-4o-mini",
			call:      callWrap,
			want:      openAIExpectations("openai", genai.InstrumentationWrap, false),
		},
	}
}

// TestMatrix makes every kind of call to every provider through its real
// SDK, seals the spans into a fresh chain per cell, and checks the sealed
// row of the call.
func TestMatrix(t *testing.T) {
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			for _, k := range callKinds {
				t.Run(string(k), func(t *testing.T) {
					runCell(t, p, k)
				})
			}
		})
	}
}

// runCell makes one call of kind k to p and checks its sealed row.
func runCell(t *testing.T, p provider, k callKind) {
	srv, err := p.newServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s := newSealer(t)

	model := p.model
	switch k {
	case rateLimited:
		model = fakeprovider.ModelRateLimited
	case serverError:
		model = fakeprovider.ModelServerError
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = p.call(ctx, callEnv{url: srv.URL, tp: s.tp, http: loopbackClient(t)}, k, model)
	switch {
	case k.fails() && err == nil:
		t.Errorf("call to %s returned no error, want the fake's error", model)
	case !k.fails() && err != nil:
		t.Errorf("call error = %v, want nil", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("fake received %d requests, want 1", n)
	}

	row := callRow(t, s.seal(t), p.want.operation, p.want.provider)
	checkCommon(t, p.want, k, model, row)
	if k.fails() {
		checkFailure(t, p.want, k, &row.body)
	} else {
		checkSuccess(t, p.want, k, model, &row.body)
	}
}

// checkCommon checks what every sealed call records: name, kind, the
// request and the instrumentation.
func checkCommon(t *testing.T, w expectations, k callKind, model string, row sealedRow) {
	b := &row.body
	wantName := w.spanName
	if wantName == "" {
		wantName = w.operation + " " + model
	}
	if b.Name != wantName {
		t.Errorf("sealed name = %q, want %q", b.Name, wantName)
	}
	if row.spanName != b.Name {
		t.Errorf("span_name column = %q, body name = %q, want equal", row.spanName, b.Name)
	}
	if b.Kind != "CLIENT" {
		t.Errorf("sealed kind = %q, want CLIENT", b.Kind)
	}
	if row.spanKind != b.Kind {
		t.Errorf("span_kind column = %q, body kind = %q, want equal", row.spanKind, b.Kind)
	}
	if b.SpanID != row.spanID {
		t.Errorf("sealed span_id = %q, span_id column = %q, want equal", b.SpanID, row.spanID)
	}

	b.wantString(t, "gen_ai.provider.name", w.provider)
	b.wantString(t, "gen_ai.operation.name", w.operation)
	b.wantString(t, "gen_ai.request.model", model)
	b.wantString(t, "bijotel.instrumentation", w.instrumentation)
	if w.contentMode {
		b.wantString(t, "bijotel.content.mode", "capture")
	} else {
		b.wantAbsent(t, "bijotel.content.mode")
	}
	if k.streamed() {
		b.wantBool(t, "gen_ai.request.stream", true)
	} else if v, ok := b.Attributes["gen_ai.request.stream"]; ok && v != false {
		t.Errorf("sealed gen_ai.request.stream = %s, want absent or false", show(v))
	}

	inputs := b.partsOfType(t, "gen_ai.input.messages", "text")
	if len(inputs) != 1 || inputs[0]["content"] != prompt {
		t.Errorf("sealed gen_ai.input.messages text parts = %s, want one with content %q", show(inputs), prompt)
	}
}

// checkSuccess checks the reply of a successful call: response, usage,
// output messages and, for a tool call, the tool definitions and the
// tool_call part.
func checkSuccess(t *testing.T, w expectations, k callKind, model string, b *sealedBody) {
	if b.StatusCode == "ERROR" {
		t.Errorf("sealed status_code = ERROR (%q), want UNSET or OK", deref(b.StatusDescription))
	}
	b.wantAbsent(t, "error.type", "bijotel.response.incomplete")

	if w.responseID != "" {
		b.wantString(t, "gen_ai.response.id", w.responseID)
	} else {
		b.wantAbsent(t, "gen_ai.response.id")
	}
	if w.responseModel {
		b.wantString(t, "gen_ai.response.model", model)
	} else {
		b.wantAbsent(t, "gen_ai.response.model")
	}
	finish, messageFinish := w.finish, "stop"
	if k.offersTool() {
		finish, messageFinish = w.toolFinish, "tool_call"
	}
	b.wantStrings(t, "gen_ai.response.finish_reasons", finish)

	// Usage is the provider's count for the whole call, the same for a
	// plain and a streamed call, never the sum of a stream's events.
	for key, want := range w.usage {
		b.wantInt(t, key, want)
	}
	b.wantBool(t, "bijotel.usage.missing", false)

	for i, m := range b.messages(t, "gen_ai.output.messages") {
		if m["role"] != "assistant" {
			t.Errorf("sealed gen_ai.output.messages[%d].role = %s, want assistant", i, show(m["role"]))
		}
		got, ok := m["finish_reason"]
		switch {
		case w.messageFinish && got != messageFinish:
			t.Errorf("sealed gen_ai.output.messages[%d].finish_reason = %s, want %q", i, show(got), messageFinish)
		case !w.messageFinish && ok:
			t.Errorf("sealed gen_ai.output.messages[%d].finish_reason = %s, want absent", i, show(got))
		}
	}

	if !k.offersTool() {
		b.wantAbsent(t, "gen_ai.tool.definitions")
		var text strings.Builder
		for _, p := range b.partsOfType(t, "gen_ai.output.messages", "text") {
			s, _ := p["content"].(string)
			text.WriteString(s)
		}
		if text.String() != w.reply {
			t.Errorf("sealed output text = %q, want %q", text.String(), w.reply)
		}
		if calls := b.partsOfType(t, "gen_ai.output.messages", "tool_call"); len(calls) != 0 {
			t.Errorf("sealed tool_call parts = %s, want none", show(calls))
		}
		return
	}

	checkToolDefinitions(t, b)
	for _, p := range b.partsOfType(t, "gen_ai.output.messages", "text") {
		if p["content"] == "" {
			t.Errorf("sealed output has an empty text part beside the tool call: %s", show(p))
		}
	}
	calls := b.partsOfType(t, "gen_ai.output.messages", "tool_call")
	if len(calls) != 1 {
		t.Fatalf("sealed tool_call parts = %s, want 1", show(calls))
	}
	call := calls[0]
	if call["name"] != toolName {
		t.Errorf("sealed tool_call name = %s, want %q", show(call["name"]), toolName)
	}
	if call["id"] != w.toolCallID {
		t.Errorf("sealed tool_call id = %s, want %q", show(call["id"]), w.toolCallID)
	}
	if !reflect.DeepEqual(call["arguments"], wantToolArguments) {
		t.Errorf("sealed tool_call arguments = %s, want %s", show(call["arguments"]), show(wantToolArguments))
	}
}

// checkToolDefinitions checks that gen_ai.tool.definitions lists the
// offered tool as a function.
func checkToolDefinitions(t *testing.T, b *sealedBody) {
	defs, ok := b.Attributes["gen_ai.tool.definitions"].([]any)
	if !ok || len(defs) != 1 {
		t.Errorf("sealed gen_ai.tool.definitions = %s, want a list of one tool", show(b.Attributes["gen_ai.tool.definitions"]))
		return
	}
	def, _ := defs[0].(map[string]any)
	if def["type"] != "function" || def["name"] != toolName {
		t.Errorf("sealed gen_ai.tool.definitions[0] = %s, want type function, name %q", show(defs[0]), toolName)
	}
}

// checkFailure checks a call that got HTTP 429 or 500: status ERROR,
// error.type and no usage.
func checkFailure(t *testing.T, w expectations, k callKind, b *sealedBody) {
	if b.StatusCode != "ERROR" {
		t.Errorf("sealed status_code = %q, want ERROR", b.StatusCode)
	}
	switch desc := deref(b.StatusDescription); {
	case w.errorDescription && desc == "":
		t.Error("sealed status_description is empty, want the error message")
	case !w.errorDescription && desc != "":
		t.Errorf("sealed status_description = %q, want empty", desc)
	}

	wantType, wantStatus := w.rateLimitType, int64(429)
	if k == serverError {
		wantType, wantStatus = w.serverErrorType, 500
	}
	b.wantString(t, "error.type", wantType)
	switch {
	case !w.httpAttributes:
		b.wantAbsent(t, "http.response.status_code", "http.response.header.retry-after")
	case k == rateLimited:
		b.wantInt(t, "http.response.status_code", wantStatus)
		b.wantStrings(t, "http.response.header.retry-after", w.retryAfter)
	default:
		b.wantInt(t, "http.response.status_code", wantStatus)
		b.wantAbsent(t, "http.response.header.retry-after")
	}

	b.wantBool(t, "bijotel.usage.missing", true)
	for key := range w.usage {
		b.wantAbsent(t, key)
	}
	b.wantAbsent(t, "gen_ai.response.id", "gen_ai.response.finish_reasons", "gen_ai.output.messages")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
