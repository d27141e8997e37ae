package otelbedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bijotel/bijotel-go/fakeprovider"
	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelbedrock"
)

func TestMain(m *testing.M) {
	// The tests build clients by hand with static credentials and never
	// load shared config. This keeps any credential lookup that might
	// still run away from the instance metadata service.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// loopbackOnly fails the test on any request to a host that is not a
// loopback address, so that no test reaches AWS or an instance metadata
// address.
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

const modelID = "anthropic.claude-3-haiku-20240307-v1:0"

type harness struct {
	t           *testing.T
	fake        *fakeprovider.Server
	rec         *tracetest.SpanRecorder
	tp          *sdktrace.TracerProvider
	cfg         *genai.Config
	maxAttempts int
	client      *bedrockruntime.Client
}

// newHarness starts a fake Bedrock server and a client with static fake
// credentials whose calls are recorded into rec. The client makes
// maxAttempts attempts per call, without back-off between them.
func newHarness(t *testing.T, maxAttempts int, opts ...genai.Option) *harness {
	t.Helper()
	fake, err := fakeprovider.NewBedrock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })

	cfg, err := genai.NewConfig(append([]genai.Option{genai.WithTracerProvider(tp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, fake: fake, rec: rec, tp: tp, cfg: cfg, maxAttempts: maxAttempts}
	h.client = h.newClient()
	return h
}

// newClient returns another client of the harness's server and
// configuration.
func (h *harness) newClient() *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(h.fake.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDFAKEFORTESTS", SecretAccessKey: "fake-secret", Source: "test"}, nil
		}),
		HTTPClient: &http.Client{Transport: loopbackOnly{h.t, http.DefaultTransport}},
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = h.maxAttempts
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = ratelimit.None
		}),
	}, otelbedrock.InstrumentWithConfig(h.cfg))
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

func userText(text string) types.Message {
	return types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}}}
}

var weatherTools = &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
	Name:        aws.String("get_weather"),
	Description: aws.String("Current weather of a city."),
	InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{
		"type":       "object",
		"properties": map[string]any{"location": map[string]any{"type": "string"}},
		"required":   []any{"location"},
	})},
}}}}

// drain reads a ConverseStream to its end and closes it.
func drain(t *testing.T, out *bedrockruntime.ConverseStreamOutput) []types.ConverseStreamOutput {
	t.Helper()
	stream := out.GetStream()
	defer stream.Close()
	var events []types.ConverseStreamOutput
	for e := range stream.Events() {
		events = append(events, e)
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}

// withHeader sets a request header on one call, such as the fake's
// scenario or hold header.
func withHeader(name, value string) func(*bedrockruntime.Options) {
	return func(o *bedrockruntime.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue(name, value))
	}
}

func TestConverseRecordsCall(t *testing.T) {
	h := newHarness(t, 1)
	out, err := h.client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId:  aws.String(modelID),
		System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "Be brief."}},
		Messages: []types.Message{userText("Say hello.")},
		InferenceConfig: &types.InferenceConfiguration{
			MaxTokens:     aws.Int32(200),
			Temperature:   aws.Float32(0.3),
			TopP:          aws.Float32(0.9),
			StopSequences: []string{"END"},
		},
		AdditionalModelRequestFields: document.NewLazyDocument(map[string]any{"top_k": 50}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg := out.Output.(*types.ConverseOutputMemberMessage).Value; msg.Content[0].(*types.ContentBlockMemberText).Value != fakeprovider.BedrockReplyText {
		t.Errorf("reply = %+v", msg)
	}

	s := h.span()
	if s.Name() != "chat "+modelID {
		t.Errorf("span name = %q", s.Name())
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v %q", s.Status().Code, s.Status().Description)
	}
	a := attrs(s)
	wantString(t, a, "gen_ai.provider.name", "aws.bedrock")
	wantString(t, a, "gen_ai.operation.name", "chat")
	wantString(t, a, "gen_ai.request.model", modelID)
	wantString(t, a, "bijotel.instrumentation", "middleware")
	wantInt(t, a, "gen_ai.request.max_tokens", 200)
	wantString(t, a, "gen_ai.request.temperature", "0.3")
	wantString(t, a, "gen_ai.request.top_p", "0.9")
	wantString(t, a, "gen_ai.request.top_k", "50")
	wantString(t, a, "gen_ai.request.stop_sequences", `["END"]`)
	wantString(t, a, "server.address", "127.0.0.1")
	wantInt(t, a, "http.response.status_code", 200)
	wantString(t, a, "aws.request_id", "00000000-0000-4000-8000-000000000001")
	wantString(t, a, "gen_ai.response.finish_reasons", `["end_turn"]`)
	wantInt(t, a, "gen_ai.usage.input_tokens", fakeprovider.BedrockInputTokens)
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.BedrockOutputTokens)
	wantAbsent(t, a, "gen_ai.response.id", "gen_ai.response.model", "gen_ai.request.stream", "error.type",
		"bijotel.response.incomplete", "http.request.resend_count", "gen_ai.usage.cache_read.input_tokens")
	wantJSON(t, a, "gen_ai.system_instructions", `[{"type":"text","content":"Be brief."}]`)
	wantJSON(t, a, "gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"Say hello."}]}]`)
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Hello from the fake Bedrock model."}]}]`)
}

func TestConverseStream(t *testing.T) {
	h := newHarness(t, 1)
	out, err := h.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId:  aws.String(modelID),
		Messages: []types.Message{userText("Say hello.")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, e := range drain(t, out) {
		if d, ok := e.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			text.WriteString(d.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
		}
	}
	if text.String() != fakeprovider.BedrockReplyText {
		t.Errorf("streamed text = %q", text.String())
	}

	a := attrs(h.span())
	wantString(t, a, "gen_ai.request.stream", "true")
	wantString(t, a, "gen_ai.response.finish_reasons", `["end_turn"]`)
	wantInt(t, a, "gen_ai.usage.input_tokens", fakeprovider.BedrockInputTokens)
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.BedrockOutputTokens)
	wantString(t, a, "aws.request_id", "00000000-0000-4000-8000-000000000001")
	wantAbsent(t, a, "bijotel.response.incomplete", "error.type")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Hello from the fake Bedrock model."}]}]`)
}

func TestToolUseAndResult(t *testing.T) {
	h := newHarness(t, 1)
	messages := []types.Message{userText("What is the weather in Paris?")}
	out, err := h.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(modelID), Messages: messages, ToolConfig: weatherTools})
	if err != nil {
		t.Fatal(err)
	}
	if out.StopReason != types.StopReasonToolUse {
		t.Fatalf("stop reason = %q", out.StopReason)
	}
	a := attrs(h.rec.Ended()[0])
	wantJSON(t, a, "gen_ai.tool.definitions", `[{"type":"function","name":"get_weather","description":"Current weather of a city.","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]`)
	wantString(t, a, "gen_ai.response.finish_reasons", `["tool_use"]`)
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"tool_call","parts":[
		{"type":"text","content":"Let me check the weather."},
		{"type":"tool_call","id":"tooluse_fake_0001","name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}}]}]`)

	messages = append(messages,
		out.Output.(*types.ConverseOutputMemberMessage).Value,
		types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
			ToolUseId: aws.String("tooluse_fake_0001"),
			Content:   []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberJson{Value: document.NewLazyDocument(map[string]any{"temperature": 21})}},
		}}}},
	)
	if _, err := h.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(modelID), Messages: messages, ToolConfig: weatherTools}); err != nil {
		t.Fatal(err)
	}
	a = attrs(h.rec.Ended()[1])
	wantJSON(t, a, "gen_ai.input.messages", `[
		{"role":"user","parts":[{"type":"text","content":"What is the weather in Paris?"}]},
		{"role":"assistant","parts":[
			{"type":"text","content":"Let me check the weather."},
			{"type":"tool_call","id":"tooluse_fake_0001","name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}}]},
		{"role":"tool","parts":[{"type":"tool_call_response","id":"tooluse_fake_0001","response":{"temperature":21}}]}]`)
	wantString(t, a, "gen_ai.response.finish_reasons", `["end_turn"]`)
}

func TestStreamedToolUseFragments(t *testing.T) {
	h := newHarness(t, 1)
	out, err := h.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(modelID), Messages: []types.Message{userText("What is the weather in Paris?")}, ToolConfig: weatherTools,
	})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, out)
	a := attrs(h.span())
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"tool_call","parts":[
		{"type":"text","content":"Let me check the weather."},
		{"type":"tool_call","id":"tooluse_fake_0001","name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}}]}]`)
	wantString(t, a, "gen_ai.response.finish_reasons", `["tool_use"]`)
}

func TestCacheTokensIncludedInInput(t *testing.T) {
	h := newHarness(t, 1)
	_, err := h.client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String(modelID),
		System: []types.SystemContentBlock{
			&types.SystemContentBlockMemberText{Value: "A long shared preamble."},
			&types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}},
		},
		Messages: []types.Message{userText("Hi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := attrs(h.span())
	wantInt(t, a, "gen_ai.usage.input_tokens", fakeprovider.BedrockInputTokens+fakeprovider.BedrockCacheReadInputTokens+fakeprovider.BedrockCacheWriteInputTokens)
	wantInt(t, a, "gen_ai.usage.cache_read.input_tokens", fakeprovider.BedrockCacheReadInputTokens)
	wantInt(t, a, "gen_ai.usage.cache_creation.input_tokens", fakeprovider.BedrockCacheWriteInputTokens)
	wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.BedrockOutputTokens)
	wantJSON(t, a, "gen_ai.system_instructions", `[{"type":"text","content":"A long shared preamble."}]`)
}

func TestThrottlingError(t *testing.T) {
	h := newHarness(t, 1)
	_, err := h.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(fakeprovider.ModelRateLimited), Messages: []types.Message{userText("Hi")}})
	var throttled *types.ThrottlingException
	if !errors.As(err, &throttled) {
		t.Fatalf("error = %v, want ThrottlingException", err)
	}
	if n := len(h.fake.Requests()); n != 1 {
		t.Errorf("fake got %d requests, want 1", n)
	}
	s := h.span()
	if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "ThrottlingException") {
		t.Errorf("status = %v %q", s.Status().Code, s.Status().Description)
	}
	a := attrs(s)
	wantString(t, a, "error.type", "ThrottlingException")
	wantInt(t, a, "http.response.status_code", 429)
	wantString(t, a, "http.response.header.retry-after", `["`+fakeprovider.BedrockRetryAfter+`"]`)
	wantString(t, a, "bijotel.usage.missing", "true")
	wantString(t, a, "aws.request_id", "00000000-0000-4000-8000-000000000001")
}

func TestRetriesShareOneSpan(t *testing.T) {
	h := newHarness(t, 2)
	_, err := h.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(fakeprovider.ModelServerError), Messages: []types.Message{userText("Hi")}})
	var serverErr *types.InternalServerException
	if !errors.As(err, &serverErr) {
		t.Fatalf("error = %v, want InternalServerException", err)
	}
	if n := len(h.fake.Requests()); n != 2 {
		t.Fatalf("fake got %d requests, want 2", n)
	}
	a := attrs(h.span())
	wantString(t, a, "error.type", "InternalServerException")
	wantInt(t, a, "http.response.status_code", 500)
	wantInt(t, a, "http.request.resend_count", 1)
	wantAbsent(t, a, "http.response.header.retry-after")
}

func TestServerErrorOnStream(t *testing.T) {
	h := newHarness(t, 1)
	_, err := h.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(fakeprovider.ModelServerError), Messages: []types.Message{userText("Hi")}})
	if err == nil {
		t.Fatal("ConverseStream to the server-error model returned no error")
	}
	a := attrs(h.span())
	wantString(t, a, "error.type", "InternalServerException")
	wantInt(t, a, "http.response.status_code", 500)
	wantString(t, a, "gen_ai.request.stream", "true")
}

func TestStreamWithoutUsage(t *testing.T) {
	h := newHarness(t, 1)
	out, err := h.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(modelID), Messages: []types.Message{userText("Hi")}},
		withHeader(fakeprovider.HeaderScenario, fakeprovider.ScenarioBedrockNoUsage))
	if err != nil {
		t.Fatal(err)
	}
	drain(t, out)
	a := attrs(h.span())
	wantString(t, a, "bijotel.usage.missing", "true")
	wantAbsent(t, a, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "bijotel.response.incomplete")
	wantString(t, a, "gen_ai.response.finish_reasons", `["end_turn"]`)
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Hello there."}]}]`)
}

func TestStreamException(t *testing.T) {
	h := newHarness(t, 1)
	out, err := h.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(modelID), Messages: []types.Message{userText("Hi")}},
		withHeader(fakeprovider.HeaderScenario, fakeprovider.ScenarioBedrockStreamException))
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	for range stream.Events() {
	}
	var throttled *types.ThrottlingException
	if err := stream.Err(); !errors.As(err, &throttled) {
		t.Errorf("stream error = %v, want ThrottlingException", err)
	}
	stream.Close()

	s := h.span()
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v, want error", s.Status().Code)
	}
	a := attrs(s)
	wantString(t, a, "error.type", "ThrottlingException")
	wantString(t, a, "bijotel.usage.missing", "true")
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Hello"}]}]`)
}

func TestStreamClosedEarly(t *testing.T) {
	h := newHarness(t, 1)
	out, err := h.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(modelID), Messages: []types.Message{userText("Hi")}},
		withHeader(fakeprovider.HeaderHoldAfter, "2"))
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	for range 2 {
		<-stream.Events()
	}
	stream.Close()
	stream.Close()

	s := h.span()
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v %q, want unset: the client chose to stop", s.Status().Code, s.Status().Description)
	}
	a := attrs(s)
	wantString(t, a, "bijotel.response.incomplete", "true")
	wantString(t, a, "bijotel.response.incomplete_reason", "closed before the end of the response")
	wantString(t, a, "bijotel.usage.missing", "true")
	wantAbsent(t, a, "gen_ai.usage.input_tokens", "gen_ai.response.finish_reasons", "error.type")
	// The two events sent were messageStart and the first text delta.
	wantJSON(t, a, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Hello"}]}]`)
}

func TestStreamClosedUnread(t *testing.T) {
	h := newHarness(t, 1)
	out, err := h.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(modelID), Messages: []types.Message{userText("Hi")}},
		withHeader(fakeprovider.HeaderHoldAfter, "0"))
	if err != nil {
		t.Fatal(err)
	}
	out.GetStream().Close()
	a := attrs(h.span())
	wantString(t, a, "bijotel.response.incomplete", "true")
	wantString(t, a, "bijotel.usage.missing", "true")
	wantAbsent(t, a, "gen_ai.output.messages")
}

func TestStreamContextCanceled(t *testing.T) {
	h := newHarness(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, err := h.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(modelID), Messages: []types.Message{userText("Hi")}},
		withHeader(fakeprovider.HeaderHoldAfter, "2"))
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	<-stream.Events()
	cancel()
	for range stream.Events() {
	}
	stream.Close()

	s := h.span()
	if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "context canceled") {
		t.Errorf("status = %v %q, want error naming the cancellation", s.Status().Code, s.Status().Description)
	}
	a := attrs(s)
	wantString(t, a, "error.type", "canceled")
	wantString(t, a, "bijotel.response.incomplete", "true")
	wantString(t, a, "bijotel.usage.missing", "true")
}

func TestContentPolicy(t *testing.T) {
	const prompt = "My account number is 12345678."
	t.Run("hash", func(t *testing.T) {
		h := newHarness(t, 1, genai.WithContentMode(genai.HashContent))
		_, err := h.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(modelID), Messages: []types.Message{userText(prompt)}, ToolConfig: weatherTools})
		if err != nil {
			t.Fatal(err)
		}
		a := attrs(h.span())
		wantString(t, a, "bijotel.content.mode", "hash")
		in, out := a["gen_ai.input.messages"].AsString(), a["gen_ai.output.messages"].AsString()
		if strings.Contains(in, "12345678") {
			t.Errorf("input messages contain the prompt: %s", in)
		}
		wantJSON(t, a, "gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content_sha256":"`+genai.HashText(prompt)+`"}]}]`)
		var args any
		json.Unmarshal([]byte(fakeprovider.BedrockToolInput), &args)
		if !strings.Contains(out, `"arguments_sha256":"`+genai.HashValue(args)+`"`) || strings.Contains(out, "Paris") {
			t.Errorf("output messages = %s, want the tool arguments hashed", out)
		}
	})
	t.Run("capture", func(t *testing.T) {
		h := newHarness(t, 1)
		if _, err := h.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(modelID), Messages: []types.Message{userText(prompt)}}); err != nil {
			t.Fatal(err)
		}
		a := attrs(h.span())
		wantString(t, a, "bijotel.content.mode", "capture")
		wantJSON(t, a, "gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"`+prompt+`"}]}]`)
	})
	t.Run("omit", func(t *testing.T) {
		h := newHarness(t, 1, genai.WithContentMode(genai.OmitContent))
		if _, err := h.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(modelID), Messages: []types.Message{userText(prompt)}}); err != nil {
			t.Fatal(err)
		}
		a := attrs(h.span())
		wantAbsent(t, a, "gen_ai.input.messages", "gen_ai.output.messages")
		wantInt(t, a, "gen_ai.usage.output_tokens", fakeprovider.BedrockOutputTokens)
	})
}

func TestInstrumentTwiceRecordsOnce(t *testing.T) {
	h := newHarness(t, 1)
	_, err := h.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(modelID), Messages: []types.Message{userText("Hi")}},
		otelbedrock.Instrument(genai.WithTracerProvider(h.tp)))
	if err != nil {
		t.Fatal(err)
	}
	h.span()
}

func TestInvalidConfigFailsCalls(t *testing.T) {
	client := bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials:  aws.AnonymousCredentials{},
		HTTPClient:   &http.Client{Transport: loopbackOnly{t, http.DefaultTransport}},
	}, otelbedrock.Instrument(genai.WithContentMode(genai.ContentMode(9))))
	_, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(modelID), Messages: []types.Message{userText("Hi")}})
	if err == nil || !strings.Contains(err.Error(), "invalid content mode") {
		t.Errorf("error = %v, want the configuration error", err)
	}
}

func TestOtherOperationsUnrecorded(t *testing.T) {
	h := newHarness(t, 1)
	// The fake has no InvokeModel route and replies 404.
	h.client.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(modelID), Body: []byte(`{}`)})
	if n := len(h.rec.Started()); n != 0 {
		t.Errorf("%d spans for InvokeModel, want 0", n)
	}
}

// TestConcurrentSafe runs calls on several clients that share one
// configuration. Each goroutine has a client of its own: bedrockruntime
// v1.63.13 with smithy-go v1.28.9 decodes the event streams of one client
// with one shared decoder. So concurrent ConverseStream calls on one client
// race inside the SDK, with or without this package.
func TestConcurrentSafe(t *testing.T) {
	h := newHarness(t, 1)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		client := h.newClient()
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				if _, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(modelID), Messages: []types.Message{userText("Hi")}}); err != nil {
					t.Error(err)
				}
				return
			}
			out, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(modelID), Messages: []types.Message{userText("Hi")}})
			if err != nil {
				t.Error(err)
				return
			}
			stream := out.GetStream()
			for range stream.Events() {
			}
			stream.Close()
		}()
	}
	wg.Wait()
	if started, ended := len(h.rec.Started()), len(h.rec.Ended()); started != 8 || ended != 8 {
		t.Errorf("spans started, ended = %d, %d, want 8, 8", started, ended)
	}
	for _, s := range h.rec.Ended() {
		wantInt(t, attrs(s), "gen_ai.usage.output_tokens", fakeprovider.BedrockOutputTokens)
	}
}
