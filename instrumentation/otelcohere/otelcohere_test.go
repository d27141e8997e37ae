package otelcohere_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	cohere "github.com/cohere-ai/cohere-go/v2"
	"github.com/cohere-ai/cohere-go/v2/option"
	cohereclient "github.com/cohere-ai/cohere-go/v2/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bijotel/bijotel-go/fakeprovider"
	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelcohere"
)

// loopbackOnly fails the test on any request to a host that is not a
// loopback address, so that no test reaches a real provider.
type loopbackOnly struct {
	t    testing.TB
	base http.RoundTripper
}

func (l loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if ip := net.ParseIP(r.URL.Hostname()); ip == nil || !ip.IsLoopback() {
		l.t.Errorf("request to non-loopback host %q", r.URL.Host)
		return nil, fmt.Errorf("non-loopback host %q", r.URL.Host)
	}
	return l.base.RoundTrip(r)
}

type harness struct {
	t      *testing.T
	fake   *fakeprovider.Server
	rec    *tracetest.SpanRecorder
	client *cohereclient.Client
}

// newHarness starts a fake Cohere server and an SDK client that records
// spans into rec. The client makes one attempt per request unless
// clientOpts set another maximum.
func newHarness(t *testing.T, opts []genai.Option, clientOpts ...option.RequestOption) *harness {
	t.Helper()
	fake, err := fakeprovider.NewCohere()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })

	opts = append([]genai.Option{genai.WithTracerProvider(tp)}, opts...)
	hc := otelcohere.NewHTTPClient(&http.Client{Transport: loopbackOnly{t, http.DefaultTransport}}, opts...)
	clientOpts = append([]option.RequestOption{
		option.WithToken("test-key"),
		option.WithBaseURL(fake.URL),
		option.WithHTTPClient(hc),
		option.WithMaxAttempts(1),
	}, clientOpts...)
	return &harness{t: t, fake: fake, rec: rec, client: cohereclient.NewClient(clientOpts...)}
}

func (h *harness) span() sdktrace.ReadOnlySpan {
	h.t.Helper()
	if started, ended := len(h.rec.Started()), len(h.rec.Ended()); started != 1 || ended != 1 {
		h.t.Fatalf("spans started, ended = %d, %d, want 1, 1", started, ended)
	}
	return h.rec.Ended()[0]
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func wantString(t *testing.T, a map[attribute.Key]attribute.Value, key, want string) {
	t.Helper()
	v, ok := a[attribute.Key(key)]
	if !ok {
		t.Errorf("%s missing, want %q", key, want)
		return
	}
	if got := v.Emit(); got != want {
		t.Errorf("%s = %s, want %s", key, got, want)
	}
}

func wantInt(t *testing.T, a map[attribute.Key]attribute.Value, key string, want int64) {
	t.Helper()
	v, ok := a[attribute.Key(key)]
	if !ok {
		t.Errorf("%s missing, want %d", key, want)
		return
	}
	if v.Type() != attribute.INT64 || v.AsInt64() != want {
		t.Errorf("%s = %s, want %d", key, v.Emit(), want)
	}
}

func wantAbsent(t *testing.T, a map[attribute.Key]attribute.Value, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := a[attribute.Key(k)]; ok {
			t.Errorf("%s = %s, want absent", k, v.Emit())
		}
	}
}

func wantJSON(t *testing.T, a map[attribute.Key]attribute.Value, key, want string) {
	t.Helper()
	v, ok := a[attribute.Key(key)]
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
		t.Fatalf("expected %s is not JSON: %v", key, err)
	}
	gb, _ := json.Marshal(got)
	eb, _ := json.Marshal(exp)
	if string(gb) != string(eb) {
		t.Errorf("%s =\n%s\nwant\n%s", key, gb, eb)
	}
}

func ptr[T any](v T) *T { return &v }

func userMessage(text string) *cohere.ChatMessageV2 {
	return &cohere.ChatMessageV2{Role: "user", User: &cohere.UserMessageV2{Content: &cohere.UserMessageV2Content{String: text}}}
}

func systemMessage(text string) *cohere.ChatMessageV2 {
	return &cohere.ChatMessageV2{Role: "system", System: &cohere.SystemMessageV2{Content: &cohere.SystemMessageV2Content{String: text}}}
}

var weatherTool = &cohere.ToolV2{
	Type: ptr("function"),
	Function: &cohere.ToolV2Function{
		Name:        "get_weather",
		Description: ptr("Current weather of a city."),
		Parameters: map[string]any{
			"type":       "object",
			"properties": map[string]any{"location": map[string]any{"type": "string"}},
			"required":   []any{"location"},
		},
	},
}

func TestChatRecordsCall(t *testing.T) {
	h := newHarness(t, nil)
	resp, err := h.client.Chat(context.Background(), &cohere.V2ChatRequest{
		Model:          "command-a-03-2025",
		Messages:       cohere.ChatMessages{systemMessage("Be brief."), userMessage("Say hello.")},
		MaxTokens:      ptr(100),
		Temperature:    ptr(0.3),
		P:              ptr(0.75),
		K:              ptr(20),
		Seed:           ptr(42),
		StopSequences:  []string{"END"},
		ResponseFormat: &cohere.ResponseFormatV2{Type: "json_object", JsonObject: &cohere.JsonResponseFormatV2{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Message.Content[0].Text.Text; got != fakeprovider.CohereReplyText {
		t.Errorf("reply = %q", got)
	}

	s := h.span()
	if s.Name() != "chat command-a-03-2025" {
		t.Errorf("span name = %q", s.Name())
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v %q", s.Status().Code, s.Status().Description)
	}
	a := attrs(s)
	wantString(t, a, "gen_ai.provider.name", "cohere")
	wantString(t, a, "gen_ai.operation.name", "chat")
	wantString(t, a, "gen_ai.request.model", "command-a-03-2025")
	wantString(t, a, "bijotel.instrumentation", "http_client")
	wantInt(t, a, "gen_ai.request.max_tokens", 100)
	wantString(t, a, "gen_ai.request.temperature", "0.3")
	wantString(t, a, "gen_ai.request.top_p", "0.75")
	wantString(t, a, "gen_ai.request.top_k", "20")
	wantInt(t, a, "gen_ai.request.seed", 42)
	wantString(t, a, "gen_ai.request.stop_sequences", `["END"]`)
	wantString(t, a, "gen_ai.output.type", "json")
	wantString(t, a, "gen_ai.response.id", "fake-cohere-0001")
	wantString(t, a, "gen_ai.response.finish_reasons", `["COMPLETE"]`)
	wantInt(t, a, "gen_ai.usage.input_tokens", fakeprovider.CohereInputTokens)
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.CohereOutputTokens)
	wantAbsent(t, a, "gen_ai.response.model", "gen_ai.request.stream", "bijotel.response.incomplete", "error.type")
	wantJSON(t, a, "gen_ai.input.messages", `[
		{"role":"system","parts":[{"type":"text","content":"Be brief."}]},
		{"role":"user","parts":[{"type":"text","content":"Say hello."}]}]`)
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Hello from the fake Command model."}]}]`)
}

// streamAll reads a chat stream to io.EOF and closes it.
func streamAll(t *testing.T, h *harness, req *cohere.V2ChatStreamRequest, opts ...option.RequestOption) []*cohere.V2ChatStreamResponse {
	t.Helper()
	stream, err := h.client.ChatStream(context.Background(), req, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var events []*cohere.V2ChatStreamResponse
	for {
		e, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return events
		}
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, &e)
	}
}

func TestChatStream(t *testing.T) {
	h := newHarness(t, nil)
	events := streamAll(t, h, &cohere.V2ChatStreamRequest{Model: "command-a-03-2025", Messages: cohere.ChatMessages{userMessage("Say hello.")}})
	var text strings.Builder
	for _, e := range events {
		if e.ContentDelta != nil {
			text.WriteString(*e.ContentDelta.Delta.Message.Content.Text)
		}
	}
	if text.String() != fakeprovider.CohereReplyText {
		t.Errorf("streamed text = %q", text.String())
	}

	a := attrs(h.span())
	wantString(t, a, "gen_ai.request.stream", "true")
	wantString(t, a, "gen_ai.response.id", "fake-cohere-0001")
	wantString(t, a, "gen_ai.response.finish_reasons", `["COMPLETE"]`)
	wantInt(t, a, "gen_ai.usage.input_tokens", fakeprovider.CohereInputTokens)
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.CohereOutputTokens)
	wantAbsent(t, a, "bijotel.response.incomplete")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Hello from the fake Command model."}]}]`)
}

func TestUsageTakesTokensNotBilledUnits(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.client.Chat(context.Background(), &cohere.V2ChatRequest{Model: "command-a-03-2025", Messages: cohere.ChatMessages{userMessage("Hi")}}); err != nil {
		t.Fatal(err)
	}
	a := attrs(h.span())
	if got := a["gen_ai.usage.input_tokens"].AsInt64(); got == fakeprovider.CohereBilledInputTokens {
		t.Errorf("input tokens = %d, the billed count; want usage.tokens", got)
	}
	wantInt(t, a, "gen_ai.usage.input_tokens", fakeprovider.CohereInputTokens)
}

func TestToolCallAndResult(t *testing.T) {
	h := newHarness(t, nil)
	messages := cohere.ChatMessages{userMessage("What is the weather in Paris?")}
	resp, err := h.client.Chat(context.Background(), &cohere.V2ChatRequest{Model: "command-a-03-2025", Messages: messages, Tools: []*cohere.ToolV2{weatherTool}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Message.ToolCalls) != 1 {
		t.Fatalf("tool calls = %v", resp.Message.ToolCalls)
	}
	call := resp.Message.ToolCalls[0]
	a := attrs(h.rec.Ended()[0])
	wantJSON(t, a, "gen_ai.tool.definitions", `[{"type":"function","name":"get_weather","description":"Current weather of a city.","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]`)
	wantString(t, a, "gen_ai.response.finish_reasons", `["TOOL_CALL"]`)
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"tool_call","parts":[
		{"type":"reasoning","content":"I will look up the weather in Paris."},
		{"type":"tool_call","id":"get_weather_fake0001","name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}}]}]`)

	messages = append(messages,
		&cohere.ChatMessageV2{Role: "assistant", Assistant: &cohere.AssistantMessage{ToolPlan: resp.Message.ToolPlan, ToolCalls: resp.Message.ToolCalls}},
		&cohere.ChatMessageV2{Role: "tool", Tool: &cohere.ToolMessageV2{ToolCallId: *call.Id, Content: &cohere.ToolMessageV2Content{String: `{"temperature":21}`}}},
	)
	if _, err := h.client.Chat(context.Background(), &cohere.V2ChatRequest{Model: "command-a-03-2025", Messages: messages, Tools: []*cohere.ToolV2{weatherTool}}); err != nil {
		t.Fatal(err)
	}
	a = attrs(h.rec.Ended()[1])
	wantJSON(t, a, "gen_ai.input.messages", `[
		{"role":"user","parts":[{"type":"text","content":"What is the weather in Paris?"}]},
		{"role":"assistant","parts":[
			{"type":"reasoning","content":"I will look up the weather in Paris."},
			{"type":"tool_call","id":"get_weather_fake0001","name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}}]},
		{"role":"tool","parts":[{"type":"tool_call_response","id":"get_weather_fake0001","response":"{\"temperature\":21}"}]}]`)
	wantString(t, a, "gen_ai.response.finish_reasons", `["COMPLETE"]`)
}

func TestStreamedToolCallFragments(t *testing.T) {
	h := newHarness(t, nil)
	streamAll(t, h, &cohere.V2ChatStreamRequest{Model: "command-a-03-2025", Messages: cohere.ChatMessages{userMessage("What is the weather in Paris?")}, Tools: []*cohere.ToolV2{weatherTool}})
	a := attrs(h.span())
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"tool_call","parts":[
		{"type":"reasoning","content":"I will look up the weather in Paris."},
		{"type":"tool_call","id":"get_weather_fake0001","name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}}]}]`)
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.CohereOutputTokens)
}

func TestStreamWithoutUsage(t *testing.T) {
	h := newHarness(t, nil)
	streamAll(t, h, &cohere.V2ChatStreamRequest{Model: "command-a-03-2025", Messages: cohere.ChatMessages{userMessage("Hi")}},
		option.WithHTTPHeader(http.Header{fakeprovider.HeaderScenario: {fakeprovider.ScenarioCohereNoUsage}}))
	a := attrs(h.span())
	wantString(t, a, "bijotel.usage.missing", "true")
	wantAbsent(t, a, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "bijotel.response.incomplete")
	wantString(t, a, "gen_ai.response.id", "msg-test-0001")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Hello there."}]}]`)
}

func TestStreamErrorFinish(t *testing.T) {
	h := newHarness(t, nil)
	streamAll(t, h, &cohere.V2ChatStreamRequest{Model: "command-a-03-2025", Messages: cohere.ChatMessages{userMessage("Hi")}},
		option.WithHTTPHeader(http.Header{fakeprovider.HeaderScenario: {fakeprovider.ScenarioCohereStreamError}}))
	s := h.span()
	if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "generation failed") {
		t.Errorf("status = %v %q, want the stream's error", s.Status().Code, s.Status().Description)
	}
	a := attrs(s)
	wantString(t, a, "error.type", "ERROR")
	wantInt(t, a, "gen_ai.usage.input_tokens", 10)
	wantInt(t, a, "gen_ai.usage.output_tokens", 1)
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"error","parts":[{"type":"text","content":"Hello"}]}]`)
}

func TestStreamClosedEarly(t *testing.T) {
	h := newHarness(t, nil)
	stream, err := h.client.ChatStream(context.Background(), &cohere.V2ChatStreamRequest{Model: "command-a-03-2025", Messages: cohere.ChatMessages{userMessage("Hi")}},
		option.WithHTTPHeader(http.Header{fakeprovider.HeaderHoldAfter: {"3"}}))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	stream.Close()
	stream.Close()

	s := h.span()
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v, want unset: the client chose to stop", s.Status().Code)
	}
	a := attrs(s)
	wantString(t, a, "bijotel.response.incomplete", "true")
	wantString(t, a, "bijotel.response.incomplete_reason", "closed before the end of the response")
	wantString(t, a, "bijotel.usage.missing", "true")
	wantString(t, a, "gen_ai.response.id", "fake-cohere-0001")
	wantAbsent(t, a, "gen_ai.usage.input_tokens", "gen_ai.response.finish_reasons")
	// Three events arrived: message-start, content-start and the first
	// content-delta.
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Hello"}]}]`)
}

func TestStreamClosedUnread(t *testing.T) {
	h := newHarness(t, nil)
	stream, err := h.client.ChatStream(context.Background(), &cohere.V2ChatStreamRequest{Model: "command-a-03-2025", Messages: cohere.ChatMessages{userMessage("Hi")}},
		option.WithHTTPHeader(http.Header{fakeprovider.HeaderHoldAfter: {"0"}}))
	if err != nil {
		t.Fatal(err)
	}
	stream.Close()
	a := attrs(h.span())
	wantString(t, a, "bijotel.response.incomplete", "true")
	wantString(t, a, "bijotel.usage.missing", "true")
	wantAbsent(t, a, "gen_ai.output.messages", "gen_ai.response.id")
}

func TestRateLimitedError(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.client.Chat(context.Background(), &cohere.V2ChatRequest{Model: fakeprovider.ModelRateLimited, Messages: cohere.ChatMessages{userMessage("Hi")}})
	var tooMany *cohere.TooManyRequestsError
	if !errors.As(err, &tooMany) {
		t.Fatalf("error = %v, want TooManyRequestsError", err)
	}
	if n := len(h.fake.Requests()); n != 1 {
		t.Errorf("fake got %d requests, want 1", n)
	}
	s := h.span()
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v, want error", s.Status().Code)
	}
	a := attrs(s)
	wantString(t, a, "error.type", "429")
	wantInt(t, a, "http.response.status_code", 429)
	wantString(t, a, "http.response.header.retry-after", `["`+fakeprovider.CohereRetryAfter+`"]`)
	wantString(t, a, "bijotel.usage.missing", "true")
}

func TestRetriesAreSpansOfTheirOwn(t *testing.T) {
	h := newHarness(t, nil, option.WithMaxAttempts(2))
	_, err := h.client.Chat(context.Background(), &cohere.V2ChatRequest{Model: fakeprovider.ModelServerError, Messages: cohere.ChatMessages{userMessage("Hi")}})
	if err == nil {
		t.Fatal("chat with the server-error model returned no error")
	}
	if n := len(h.fake.Requests()); n != 2 {
		t.Fatalf("fake got %d requests, want 2", n)
	}
	if started, ended := len(h.rec.Started()), len(h.rec.Ended()); started != 2 || ended != 2 {
		t.Fatalf("spans started, ended = %d, %d, want one per attempt", started, ended)
	}
	for _, s := range h.rec.Ended() {
		wantString(t, attrs(s), "error.type", "500")
	}
}

func TestServerErrorOnStream(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.client.ChatStream(context.Background(), &cohere.V2ChatStreamRequest{Model: fakeprovider.ModelServerError, Messages: cohere.ChatMessages{userMessage("Hi")}})
	var serverErr *cohere.InternalServerError
	if !errors.As(err, &serverErr) {
		t.Fatalf("error = %v, want InternalServerError", err)
	}
	a := attrs(h.span())
	wantString(t, a, "error.type", "500")
	wantInt(t, a, "http.response.status_code", 500)
	wantString(t, a, "gen_ai.request.stream", "true")
	wantAbsent(t, a, "http.response.header.retry-after")
}

func TestContentPolicy(t *testing.T) {
	const prompt = "My account number is 12345678."
	t.Run("hash", func(t *testing.T) {
		h := newHarness(t, []genai.Option{genai.WithContentMode(genai.HashContent)})
		if _, err := h.client.Chat(context.Background(), &cohere.V2ChatRequest{Model: "command-a-03-2025", Messages: cohere.ChatMessages{userMessage(prompt)}}); err != nil {
			t.Fatal(err)
		}
		a := attrs(h.span())
		wantJSON(t, a, "gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content_sha256":"`+genai.HashText(prompt)+`"}]}]`)
	})
	t.Run("omit", func(t *testing.T) {
		h := newHarness(t, []genai.Option{genai.WithContentMode(genai.OmitContent)})
		if _, err := h.client.Chat(context.Background(), &cohere.V2ChatRequest{Model: "command-a-03-2025", Messages: cohere.ChatMessages{userMessage(prompt)}}); err != nil {
			t.Fatal(err)
		}
		a := attrs(h.span())
		wantAbsent(t, a, "gen_ai.input.messages", "gen_ai.output.messages")
		wantString(t, a, "bijotel.content.mode", "omit")
	})
}

func TestOtherRequestsPassThrough(t *testing.T) {
	h := newHarness(t, nil)
	// The fake replies 404 to the v2 embed path; the request is not a
	// chat call, so it has no span.
	h.client.Embed(context.Background(), &cohere.V2EmbedRequest{Model: "embed-v4.0", InputType: cohere.EmbedInputTypeSearchQuery, Texts: []string{"hi"}})
	if n := len(h.rec.Started()); n != 0 {
		t.Errorf("%d spans for embed, want 0", n)
	}
}
