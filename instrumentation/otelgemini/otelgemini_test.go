package otelgemini_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	gg "google.golang.org/genai"

	"github.com/bijotel/bijotel-go/fakeprovider"
	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelgemini"
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
	tp     *sdktrace.TracerProvider
	client *gg.Client
	http   *http.Client
}

// newHarness starts a fake Gemini server and a Gemini Developer API client
// whose HTTP client records spans into rec.
func newHarness(t *testing.T, opts ...genai.Option) *harness {
	return newBackendHarness(t, gg.BackendGeminiAPI, opts...)
}

func newBackendHarness(t *testing.T, backend gg.Backend, opts ...genai.Option) *harness {
	t.Helper()
	fake, err := fakeprovider.NewGemini()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })

	opts = append([]genai.Option{genai.WithTracerProvider(tp)}, opts...)
	hc := otelgemini.NewHTTPClient(&http.Client{Transport: loopbackOnly{t, http.DefaultTransport}}, opts...)
	cc := &gg.ClientConfig{
		Backend:     backend,
		HTTPClient:  hc,
		HTTPOptions: gg.HTTPOptions{BaseURL: fake.URL},
	}
	if backend == gg.BackendVertexAI {
		cc.Project, cc.Location = "test-project", "us-central1"
	} else {
		cc.APIKey = "test-key"
	}
	client, err := gg.NewClient(context.Background(), cc)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, fake: fake, rec: rec, tp: tp, client: client, http: hc}
}

// span returns the only span, and fails the test unless exactly one span
// started and ended.
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
	if got := v.AsInt64(); v.Type() != attribute.INT64 || got != want {
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

// wantJSON compares a JSON attribute with the expected JSON text, ignoring
// formatting.
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

func TestGenerateContentRecordsCall(t *testing.T) {
	h := newHarness(t)
	cfg := &gg.GenerateContentConfig{
		SystemInstruction: gg.NewContentFromText("Answer in one sentence.", gg.RoleUser),
		Temperature:       ptr[float32](0.5),
		TopP:              ptr[float32](0.25),
		TopK:              ptr[float32](40),
		MaxOutputTokens:   256,
		StopSequences:     []string{"END"},
		Seed:              ptr[int32](7),
		ResponseMIMEType:  "text/plain",
	}
	resp, err := h.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", gg.Text("What is the capital of France?"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Text(); got != fakeprovider.GeminiReplyText {
		t.Errorf("reply text = %q, want %q", got, fakeprovider.GeminiReplyText)
	}

	s := h.span()
	if s.Name() != "generate_content gemini-2.5-flash" {
		t.Errorf("span name = %q", s.Name())
	}
	if s.SpanKind() != trace.SpanKindClient {
		t.Errorf("span kind = %v, want client", s.SpanKind())
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v %q, want unset", s.Status().Code, s.Status().Description)
	}
	a := attrs(s)
	wantString(t, a, "gen_ai.provider.name", "gcp.gemini")
	wantString(t, a, "gen_ai.operation.name", "generate_content")
	wantString(t, a, "gen_ai.request.model", "gemini-2.5-flash")
	wantString(t, a, "bijotel.instrumentation", "http_client")
	wantString(t, a, "server.address", "127.0.0.1")
	wantString(t, a, "gen_ai.request.temperature", "0.5")
	wantString(t, a, "gen_ai.request.top_p", "0.25")
	wantString(t, a, "gen_ai.request.top_k", "40")
	wantInt(t, a, "gen_ai.request.max_tokens", 256)
	wantInt(t, a, "gen_ai.request.seed", 7)
	wantString(t, a, "gen_ai.request.stop_sequences", `["END"]`)
	wantString(t, a, "gen_ai.output.type", "text")
	wantString(t, a, "gen_ai.response.id", "fake-gemini-0001")
	wantString(t, a, "gen_ai.response.model", "gemini-2.5-flash")
	wantString(t, a, "gen_ai.response.finish_reasons", `["STOP"]`)
	wantInt(t, a, "gen_ai.usage.input_tokens", fakeprovider.GeminiInputTokens)
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.GeminiOutputTokens)
	wantString(t, a, "bijotel.usage.missing", "false")
	wantInt(t, a, "http.response.status_code", 200)
	wantAbsent(t, a, "gen_ai.request.stream", "bijotel.response.incomplete", "error.type", "gen_ai.usage.cache_read.input_tokens")
	wantJSON(t, a, "gen_ai.system_instructions", `[{"type":"text","content":"Answer in one sentence."}]`)
	wantJSON(t, a, "gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"What is the capital of France?"}]}]`)
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Paris is the capital of France."}]}]`)
}

func TestStreamTakesLastUsage(t *testing.T) {
	h := newHarness(t)
	var text strings.Builder
	for chunk, err := range h.client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", gg.Text("What is the capital of France?"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(chunk.Text())
	}
	if text.String() != fakeprovider.GeminiReplyText {
		t.Errorf("streamed text = %q", text.String())
	}

	a := attrs(h.span())
	wantString(t, a, "gen_ai.request.stream", "true")
	wantString(t, a, "gen_ai.response.id", "fake-gemini-0001")
	wantString(t, a, "gen_ai.response.finish_reasons", `["STOP"]`)
	// The fake sends six chunks with cumulative counts 1, 2, 3, 4, 5 and 7;
	// adding them up would give 22 output and 66 input tokens.
	wantInt(t, a, "gen_ai.usage.input_tokens", fakeprovider.GeminiInputTokens)
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.GeminiOutputTokens)
	wantAbsent(t, a, "bijotel.response.incomplete")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Paris is the capital of France."}]}]`)
}

// scenario returns a config that makes the fake send a recorded reply,
// such as the stream whose three chunks repeat the cumulative counts 120/4, 120/19 and
// 120/37.
func scenario(name string) *gg.GenerateContentConfig {
	return &gg.GenerateContentConfig{HTTPOptions: &gg.HTTPOptions{Headers: http.Header{fakeprovider.HeaderScenario: {name}}}}
}

func TestStreamCumulativeUsageNotSummed(t *testing.T) {
	h := newHarness(t)
	for _, err := range h.client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", gg.Text("What is the capital of France?"), scenario(fakeprovider.ScenarioGeminiCumulativeUsage)) {
		if err != nil {
			t.Fatal(err)
		}
	}
	a := attrs(h.span())
	wantInt(t, a, "gen_ai.usage.input_tokens", 120)
	wantInt(t, a, "gen_ai.usage.output_tokens", 37)
	if in, out := a["gen_ai.usage.input_tokens"].AsInt64(), a["gen_ai.usage.output_tokens"].AsInt64(); in+out != 157 {
		t.Errorf("input + output = %d, want totalTokenCount 157", in+out)
	}
	wantString(t, a, "gen_ai.response.id", "resp-test-0001")
	wantString(t, a, "gen_ai.response.model", "gemini-2.5-flash")
	wantString(t, a, "gen_ai.response.finish_reasons", `["STOP"]`)
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Paris is the capital of France."}]}]`)
}

func TestStreamUsageEqualsUnstreamed(t *testing.T) {
	h := newHarness(t)
	if _, err := h.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", gg.Text("What is the capital of France?"), scenario(fakeprovider.ScenarioGeminiCumulativeUsage)); err != nil {
		t.Fatal(err)
	}
	a := attrs(h.span())
	wantInt(t, a, "gen_ai.usage.input_tokens", 120)
	wantInt(t, a, "gen_ai.usage.output_tokens", 37)
}

func TestStreamWithoutUsage(t *testing.T) {
	h := newHarness(t)
	for _, err := range h.client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", gg.Text("What is the capital of France?"), scenario(fakeprovider.ScenarioGeminiNoUsage)) {
		if err != nil {
			t.Fatal(err)
		}
	}
	a := attrs(h.span())
	wantString(t, a, "bijotel.usage.missing", "true")
	wantAbsent(t, a, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "bijotel.response.incomplete")
	wantString(t, a, "gen_ai.response.id", "resp-test-0002")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Paris is the capital of France."}]}]`)
}

// holdAfter makes the fake stop after n events and keep the stream open
// until the client closes it.
func holdAfter(cfg *gg.GenerateContentConfig, n int) *gg.GenerateContentConfig {
	if cfg == nil {
		cfg = &gg.GenerateContentConfig{}
	}
	if cfg.HTTPOptions == nil {
		cfg.HTTPOptions = &gg.HTTPOptions{Headers: http.Header{}}
	}
	cfg.HTTPOptions.Headers.Set(fakeprovider.HeaderHoldAfter, fmt.Sprint(n))
	return cfg
}

func TestStreamBreakEndsSpanIncomplete(t *testing.T) {
	h := newHarness(t)
	cfg := holdAfter(scenario(fakeprovider.ScenarioGeminiCumulativeUsage), 1)
	for chunk, err := range h.client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", gg.Text("What is the capital of France?"), cfg) {
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Text() != "Paris is" {
			t.Errorf("first chunk = %q", chunk.Text())
		}
		break
	}

	s := h.span()
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v %q, want unset: the client chose to stop", s.Status().Code, s.Status().Description)
	}
	a := attrs(s)
	wantString(t, a, "bijotel.response.incomplete", "true")
	wantString(t, a, "bijotel.response.incomplete_reason", "closed before the end of the response")
	wantString(t, a, "gen_ai.response.id", "resp-test-0001")
	// The first chunk's snapshot is all that arrived: a lower bound.
	wantInt(t, a, "gen_ai.usage.input_tokens", 120)
	wantInt(t, a, "gen_ai.usage.output_tokens", 4)
	wantAbsent(t, a, "gen_ai.response.finish_reasons", "error.type")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Paris is"}]}]`)
}

func TestStreamContextCanceled(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := holdAfter(scenario(fakeprovider.ScenarioGeminiNoUsage), 1)
	var errs []error
	for _, err := range h.client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", gg.Text("What is the capital of France?"), cfg) {
		if err != nil {
			errs = append(errs, err)
			break
		}
		cancel()
	}
	if len(errs) == 0 {
		t.Error("stream ended without an error after cancel")
	}

	s := h.span()
	if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "context canceled") {
		t.Errorf("status = %v %q, want error naming the cancellation", s.Status().Code, s.Status().Description)
	}
	a := attrs(s)
	wantString(t, a, "error.type", "canceled")
	wantString(t, a, "bijotel.response.incomplete", "true")
	wantString(t, a, "bijotel.usage.missing", "true")
	wantAbsent(t, a, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Paris is"}]}]`)
}

func TestBodyClosedUnreadEndsOnce(t *testing.T) {
	h := newHarness(t)
	req, err := http.NewRequest(http.MethodPost, h.fake.URL+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
		strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"What is the capital of France?"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(fakeprovider.HeaderHoldAfter, "0")
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp.Body.Close()

	a := attrs(h.span())
	wantString(t, a, "bijotel.response.incomplete", "true")
	wantString(t, a, "bijotel.usage.missing", "true")
	wantAbsent(t, a, "gen_ai.output.messages", "gen_ai.response.id", "gen_ai.usage.output_tokens")
}

func TestBodyReadToEOFThenClosedEndsOnce(t *testing.T) {
	h := newHarness(t)
	resp, err := h.http.Post(h.fake.URL+"/v1beta/models/gemini-2.5-flash:generateContent", "application/json",
		strings.NewReader(`{"contents":[{"parts":[{"text":"Hi"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	a := attrs(h.span())
	wantAbsent(t, a, "bijotel.response.incomplete")
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.GeminiOutputTokens)
}

func TestStreamJSONArrayBody(t *testing.T) {
	h := newHarness(t)
	resp, err := h.http.Post(h.fake.URL+"/v1beta/models/gemini-2.5-flash:streamGenerateContent", "application/json",
		strings.NewReader(`{"contents":[{"parts":[{"text":"Hi"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "[") {
		t.Fatalf("body is not a JSON array: %.40s", body)
	}
	a := attrs(h.span())
	wantString(t, a, "gen_ai.request.stream", "true")
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.GeminiOutputTokens)
	wantInt(t, a, "gen_ai.usage.input_tokens", fakeprovider.GeminiInputTokens)
	wantAbsent(t, a, "bijotel.response.incomplete")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Paris is the capital of France."}]}]`)
}

func TestStreamInBandError(t *testing.T) {
	h := newHarness(t)
	var gotErr error
	for _, err := range h.client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", gg.Text("Hi"), scenario(fakeprovider.ScenarioGeminiStreamError)) {
		if err != nil {
			gotErr = err
		}
	}
	if gotErr == nil {
		t.Error("SDK reported no error for the in-band error chunk")
	}
	s := h.span()
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v, want error", s.Status().Code)
	}
	a := attrs(s)
	wantString(t, a, "error.type", "INTERNAL")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Paris is"}]}]`)
}

var weatherTool = &gg.Tool{FunctionDeclarations: []*gg.FunctionDeclaration{{
	Name:        "get_weather",
	Description: "Current weather of a city.",
	ParametersJsonSchema: map[string]any{
		"type":       "object",
		"properties": map[string]any{"location": map[string]any{"type": "string"}},
		"required":   []any{"location"},
	},
}}}

func TestToolCallAndResult(t *testing.T) {
	h := newHarness(t)
	cfg := &gg.GenerateContentConfig{Tools: []*gg.Tool{weatherTool}}
	contents := gg.Text("What is the weather in Paris?")
	resp, err := h.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", contents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.FunctionCalls()
	if len(calls) != 1 || calls[0].Name != "get_weather" {
		t.Fatalf("function calls = %+v", calls)
	}
	a := attrs(h.rec.Ended()[0])
	wantJSON(t, a, "gen_ai.tool.definitions", `[{"type":"function","name":"get_weather","description":"Current weather of a city.","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]`)
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"tool_call","parts":[{"type":"tool_call","id":"","name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}}]}]`)
	wantString(t, a, "gen_ai.response.finish_reasons", `["STOP"]`)

	// The second turn returns the result; the fake replies with text.
	contents = append(contents,
		gg.NewContentFromParts([]*gg.Part{gg.NewPartFromFunctionCall("get_weather", calls[0].Args)}, gg.RoleModel),
		gg.NewContentFromParts([]*gg.Part{gg.NewPartFromFunctionResponse("get_weather", map[string]any{"temperature": 21})}, gg.RoleUser),
	)
	if _, err := h.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", contents, cfg); err != nil {
		t.Fatal(err)
	}
	if n := len(h.rec.Ended()); n != 2 {
		t.Fatalf("%d spans, want 2", n)
	}
	a = attrs(h.rec.Ended()[1])
	wantJSON(t, a, "gen_ai.input.messages", `[
		{"role":"user","parts":[{"type":"text","content":"What is the weather in Paris?"}]},
		{"role":"assistant","parts":[{"type":"tool_call","id":"","name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}}]},
		{"role":"tool","parts":[{"type":"tool_call_response","id":"","name":"get_weather","response":{"temperature":21}}]}]`)
	wantString(t, a, "gen_ai.response.finish_reasons", `["STOP"]`)
}

func TestStreamedToolCall(t *testing.T) {
	h := newHarness(t)
	cfg := &gg.GenerateContentConfig{Tools: []*gg.Tool{weatherTool}}
	for _, err := range h.client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", gg.Text("What is the weather in Paris?"), cfg) {
		if err != nil {
			t.Fatal(err)
		}
	}
	a := attrs(h.span())
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"tool_call","parts":[{"type":"tool_call","id":"","name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}}]}]`)
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.GeminiOutputTokens)
}

func TestThoughtsAndCachedContent(t *testing.T) {
	h := newHarness(t)
	cfg := &gg.GenerateContentConfig{
		CachedContent:    "cachedContents/test-cache",
		ThinkingConfig:   &gg.ThinkingConfig{IncludeThoughts: true},
		ResponseMIMEType: "application/json",
	}
	if _, err := h.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", gg.Text("Hi"), cfg); err != nil {
		t.Fatal(err)
	}
	a := attrs(h.span())
	wantInt(t, a, "gen_ai.usage.input_tokens", fakeprovider.GeminiInputTokens)
	wantInt(t, a, "gen_ai.usage.cache_read.input_tokens", fakeprovider.GeminiCachedInputTokens)
	wantInt(t, a, "gen_ai.usage.reasoning.output_tokens", fakeprovider.GeminiThoughtsTokens)
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.GeminiOutputTokens+fakeprovider.GeminiThoughtsTokens)
	wantString(t, a, "gen_ai.output.type", "json")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[
		{"type":"reasoning","content":"The user asks about a capital city."},
		{"type":"text","content":"Paris is the capital of France."}]}]`)
}

func TestRateLimitedError(t *testing.T) {
	h := newHarness(t)
	_, err := h.client.Models.GenerateContent(context.Background(), fakeprovider.ModelRateLimited, gg.Text("Hi"), nil)
	var apiErr gg.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != http.StatusTooManyRequests {
		t.Fatalf("error = %v, want an APIError with code 429", err)
	}
	s := h.span()
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v, want error", s.Status().Code)
	}
	a := attrs(s)
	wantString(t, a, "error.type", "RESOURCE_EXHAUSTED")
	wantInt(t, a, "http.response.status_code", 429)
	wantString(t, a, "http.response.header.retry-after", `["`+fakeprovider.GeminiRetryAfter+`"]`)
	wantString(t, a, "bijotel.usage.missing", "true")
	wantString(t, a, "gen_ai.request.model", fakeprovider.ModelRateLimited)
}

func TestServerErrorOnStream(t *testing.T) {
	h := newHarness(t)
	var gotErr error
	for _, err := range h.client.Models.GenerateContentStream(context.Background(), fakeprovider.ModelServerError, gg.Text("Hi"), nil) {
		gotErr = err
	}
	if gotErr == nil {
		t.Fatal("stream to the server-error model returned no error")
	}
	a := attrs(h.span())
	wantString(t, a, "error.type", "INTERNAL")
	wantInt(t, a, "http.response.status_code", 500)
	wantString(t, a, "gen_ai.request.stream", "true")
	wantAbsent(t, a, "http.response.header.retry-after")
}

func TestVertexProvider(t *testing.T) {
	h := newBackendHarness(t, gg.BackendVertexAI)
	if _, err := h.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", gg.Text("Hi"), nil); err != nil {
		t.Fatal(err)
	}
	reqs := h.fake.Requests()
	if len(reqs) != 1 || !strings.Contains(reqs[0].Path, "/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent") {
		t.Fatalf("requests = %+v", reqs)
	}
	a := attrs(h.span())
	wantString(t, a, "gen_ai.provider.name", "gcp.vertex_ai")
	wantString(t, a, "gen_ai.request.model", "gemini-2.5-flash")
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.GeminiOutputTokens)
}

func TestContentPolicy(t *testing.T) {
	const prompt = "My account number is 12345678."
	tests := []struct {
		mode genai.ContentMode
		want string
	}{
		{genai.CaptureContent, `[{"role":"user","parts":[{"type":"text","content":"` + prompt + `"}]}]`},
		{genai.HashContent, `[{"role":"user","parts":[{"type":"text","content_sha256":"` + genai.HashText(prompt) + `"}]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			h := newHarness(t, genai.WithContentMode(tt.mode))
			if _, err := h.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", gg.Text(prompt), nil); err != nil {
				t.Fatal(err)
			}
			a := attrs(h.span())
			wantString(t, a, "bijotel.content.mode", tt.mode.String())
			wantJSON(t, a, "gen_ai.input.messages", tt.want)
		})
	}

	t.Run("hash hides the prompt", func(t *testing.T) {
		h := newHarness(t, genai.WithContentMode(genai.HashContent))
		if _, err := h.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", gg.Text(prompt), nil); err != nil {
			t.Fatal(err)
		}
		a := attrs(h.span())
		in, out := a["gen_ai.input.messages"].AsString(), a["gen_ai.output.messages"].AsString()
		if strings.Contains(in, "12345678") {
			t.Errorf("input messages contain the prompt: %s", in)
		}
		if !strings.Contains(in, genai.HashText(prompt)) {
			t.Errorf("input messages lack HashText(prompt): %s", in)
		}
		if strings.Contains(out, "Paris") || !strings.Contains(out, genai.HashText(fakeprovider.GeminiReplyText)) {
			t.Errorf("output messages = %s, want the reply's hash only", out)
		}
	})

	t.Run("omit", func(t *testing.T) {
		h := newHarness(t, genai.WithContentMode(genai.OmitContent))
		if _, err := h.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", gg.Text(prompt), nil); err != nil {
			t.Fatal(err)
		}
		a := attrs(h.span())
		wantAbsent(t, a, "gen_ai.input.messages", "gen_ai.output.messages")
		wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.GeminiOutputTokens)
	})
}

func TestOtherRequestsPassThrough(t *testing.T) {
	h := newHarness(t)
	resp, err := h.http.Post(h.fake.URL+"/v1beta/models/gemini-2.5-flash:countTokens", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(h.rec.Started()); n != 0 {
		t.Errorf("%d spans for countTokens, want 0", n)
	}
}

func TestInvalidConfigFailsRequests(t *testing.T) {
	hc := otelgemini.NewHTTPClient(nil, genai.WithContentMode(genai.ContentMode(9)))
	_, err := hc.Post("http://127.0.0.1:1/v1beta/models/m:generateContent", "application/json", strings.NewReader("{}"))
	if err == nil || !strings.Contains(err.Error(), "invalid content mode") {
		t.Errorf("error = %v, want the configuration error", err)
	}
}

func TestProviderFor(t *testing.T) {
	tests := []struct{ host, path, want string }{
		{"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:generateContent", "gcp.gemini"},
		{"us-central1-aiplatform.googleapis.com", "/v1/publishers/google/models/gemini-2.5-flash:generateContent", "gcp.vertex_ai"},
		{"aiplatform.googleapis.com", "/v1/x:generateContent", "gcp.vertex_ai"},
		{"127.0.0.1", "/v1beta1/projects/p/locations/l/publishers/google/models/m:generateContent", "gcp.vertex_ai"},
		{"127.0.0.1", "/v1beta/models/m:generateContent", "gcp.gemini"},
	}
	for _, tt := range tests {
		if got := otelgemini.ProviderFor(tt.host, tt.path); got != tt.want {
			t.Errorf("ProviderFor(%q, %q) = %q, want %q", tt.host, tt.path, got, tt.want)
		}
	}
}

func TestConcurrentSafe(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				if _, err := h.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", gg.Text("Hi"), nil); err != nil {
					t.Error(err)
				}
				return
			}
			for _, err := range h.client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", gg.Text("Hi"), nil) {
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if started, ended := len(h.rec.Started()), len(h.rec.Ended()); started != 8 || ended != 8 {
		t.Errorf("spans started, ended = %d, %d, want 8, 8", started, ended)
	}
	for _, s := range h.rec.Ended() {
		wantInt(t, attrs(s), "gen_ai.usage.output_tokens", fakeprovider.GeminiOutputTokens)
	}
}
