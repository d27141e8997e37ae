package otelopenai_test

import (
	"context"
	"errors"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bijotel/bijotel-go/fakeprovider"
	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelopenai"
)

// wrapHarness is a fake server and a client without the middleware, whose
// calls the tests record with genai.Wrap.
func wrapHarness(t *testing.T) (*harness, *genai.Config) {
	t.Helper()
	srv, err := fakeprovider.NewOpenAI()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	cfg, err := genai.NewConfig(genai.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("test-key"), option.WithMaxRetries(0))
	return &harness{srv: srv, rec: rec, tp: tp, client: client}, cfg
}

func TestWrapChatCompletion(t *testing.T) {
	h, cfg := wrapHarness(t)
	params := chatParams("gpt-4o-mini")
	_, err := genai.Wrap(context.Background(), cfg, otelopenai.ChatCompletionRequest(params),
		func(ctx context.Context) (*openai.ChatCompletion, error) {
			return h.client.Chat.Completions.New(ctx, params)
		}, otelopenai.ChatCompletionResponse)
	if err != nil {
		t.Fatal(err)
	}

	s := h.onlySpan(t)
	wantString(t, s, "bijotel.instrumentation", "wrap")
	wantString(t, s, "gen_ai.provider.name", "openai")
	wantString(t, s, "gen_ai.request.model", "gpt-4o-mini")
	wantInt(t, s, "gen_ai.request.max_tokens", 64)
	wantString(t, s, "gen_ai.response.id", "chatcmpl-fake-0001")
	wantStrings(t, s, "gen_ai.response.finish_reasons", "stop")
	wantInt(t, s, "gen_ai.usage.input_tokens", fakeprovider.OpenAIInputTokens)
	wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.OpenAIOutputTokens)
	wantJSON(t, s, "gen_ai.input.messages", helloInput)
	wantJSON(t, s, "gen_ai.output.messages", helloOutput)
}

func TestWrapResponses(t *testing.T) {
	h, cfg := wrapHarness(t)
	params := responsesParams("gpt-4.1-mini")
	_, err := genai.Wrap(context.Background(), cfg, otelopenai.ResponsesRequest(params),
		func(ctx context.Context) (*responses.Response, error) {
			return h.client.Responses.New(ctx, params)
		}, otelopenai.ResponsesResponse)
	if err != nil {
		t.Fatal(err)
	}

	s := h.onlySpan(t)
	wantString(t, s, "gen_ai.response.id", "resp_fake_0001")
	wantInt(t, s, "gen_ai.usage.output_tokens", fakeprovider.OpenAIOutputTokens)
	wantJSON(t, s, "gen_ai.system_instructions", responsesSystem)
	wantJSON(t, s, "gen_ai.output.messages", responsesOutput)
}

func TestWrapChatCompletionError(t *testing.T) {
	h, cfg := wrapHarness(t)
	params := chatParams(fakeprovider.ModelServerError)
	_, err := genai.Wrap(context.Background(), cfg, otelopenai.ChatCompletionRequest(params),
		func(ctx context.Context) (*openai.ChatCompletion, error) {
			c, err := h.client.Chat.Completions.New(ctx, params)
			return c, otelopenai.TypedError(err)
		}, otelopenai.ChatCompletionResponse)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 {
		t.Fatalf("error = %v, want an *openai.Error with status 500", err)
	}
	s := h.onlySpan(t)
	wantString(t, s, "error.type", "server_error")
	wantNoUsage(t, s)
}
