// Package demo runs the multi-provider application behind bijotel demo:
// one TracerProvider with the sealing processor, calls to several providers
// through their real Go SDKs, then verification of the chain.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	gg "google.golang.org/genai"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/fakeprovider"
	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelanthropic"
	"github.com/bijotel/bijotel-go/instrumentation/otelgemini"
	"github.com/bijotel/bijotel-go/instrumentation/otelopenai"
)

// Options configures Run.
type Options struct {
	// DBPath is the chain to seal into; it is created when missing.
	DBPath string
	Secret []byte
	// Live calls the providers' real APIs with the keys from Getenv instead
	// of the fake servers on loopback. Providers without a key are skipped.
	Live   bool
	Getenv func(string) string
	// Out receives a line per call.
	Out io.Writer
}

// Result is the outcome of a demo run: the verification report and the
// usage sealed by this run.
type Result struct {
	Report    *bijotel.Report
	Providers []bijotel.ProviderUsage
	// FirstSeq is the first entry this run appended.
	FirstSeq int64
}

// provider is one provider of the demo and where to reach it.
type provider struct {
	name    string
	keyEnv  string
	liveURL string
	call    func(ctx context.Context, baseURL, key string) (string, error)
}

const prompt = "Summarise the incident report in two sentences: the cache tier was removed by a config push at 02:14 UTC and restored by a rollback at 02:51."

// Run seals one call per provider (two for Anthropic, one of them
// streamed) into opts.DBPath and verifies the whole chain. It sets the
// global TracerProvider for the duration of the run, because the Anthropic
// SDK emits its spans through it, and restores the previous one after.
func Run(ctx context.Context, opts Options) (*Result, error) {
	before, err := entries(ctx, opts.DBPath)
	if err != nil {
		return nil, err
	}

	// The wiring an application uses: a processor that seals into the chain,
	// on a TracerProvider set as the global one.
	p, err := bijotel.NewProcessor(opts.DBPath, opts.Secret)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
	previous := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	defer otel.SetTracerProvider(previous)

	callErr := callAll(ctx, tp, opts)
	// Shutdown flushes every span into the chain and closes it.
	if err := tp.Shutdown(ctx); err != nil {
		return nil, errors.Join(callErr, fmt.Errorf("flush spans into %s: %w", opts.DBPath, err))
	}
	if callErr != nil {
		return nil, callErr
	}

	chain, err := bijotel.OpenReadOnly(opts.DBPath)
	if err != nil {
		return nil, err
	}
	defer chain.Close()
	rep, err := bijotel.Verify(ctx, chain, opts.Secret)
	if err != nil {
		return nil, err
	}
	usage, err := chain.ProviderUsage(ctx, before+1, 1<<62)
	if err != nil {
		return nil, err
	}
	return &Result{Report: rep, Providers: usage, FirstSeq: before + 1}, nil
}

// entries returns the last seq of the chain at path, or 0 when there is no
// chain yet.
func entries(ctx context.Context, path string) (int64, error) {
	c, err := bijotel.OpenReadOnly(path)
	if err != nil {
		return 0, nil
	}
	defer c.Close()
	b, err := c.Bounds(ctx)
	return b.Last, err
}

// callAll makes the calls of every provider, against fake servers unless
// opts.Live is set.
func callAll(ctx context.Context, tp *sdktrace.TracerProvider, opts Options) error {
	providers := []provider{
		{name: "anthropic", keyEnv: "ANTHROPIC_API_KEY", liveURL: "https://api.anthropic.com", call: callAnthropic},
		{name: "x_ai", keyEnv: "XAI_API_KEY", liveURL: "https://api.x.ai/v1", call: func(ctx context.Context, baseURL, key string) (string, error) {
			return callXAI(ctx, tp, baseURL, key)
		}},
		{name: "mistral_ai", keyEnv: "MISTRAL_API_KEY", liveURL: "https://api.mistral.ai/v1", call: func(ctx context.Context, baseURL, key string) (string, error) {
			return callMistral(ctx, tp, baseURL, key)
		}},
		{name: "gcp.gemini", keyEnv: "GEMINI_API_KEY", liveURL: "", call: func(ctx context.Context, baseURL, key string) (string, error) {
			return callGemini(ctx, tp, baseURL, key)
		}},
	}

	fakes := map[string]string{}
	if !opts.Live {
		anthropicFake, err := fakeprovider.NewAnthropic()
		if err != nil {
			return err
		}
		defer anthropicFake.Close()
		openaiFake, err := fakeprovider.NewOpenAI()
		if err != nil {
			return err
		}
		defer openaiFake.Close()
		geminiFake, err := fakeprovider.NewGemini()
		if err != nil {
			return err
		}
		defer geminiFake.Close()
		fakes["anthropic"] = anthropicFake.URL
		fakes["x_ai"] = openaiFake.URL + "/v1"
		fakes["mistral_ai"] = openaiFake.URL + "/v1"
		fakes["gcp.gemini"] = geminiFake.URL
	}

	for _, pr := range providers {
		baseURL, key := fakes[pr.name], "demo-key"
		if opts.Live {
			baseURL, key = pr.liveURL, opts.Getenv(pr.keyEnv)
			if key == "" {
				fmt.Fprintf(opts.Out, "%-11s skipped: set %s to call it\n", pr.name, pr.keyEnv)
				continue
			}
		}
		reply, err := pr.call(ctx, baseURL, key)
		if err != nil {
			return fmt.Errorf("%s: %w", pr.name, err)
		}
		fmt.Fprintf(opts.Out, "%-11s %s\n", pr.name, oneLine(reply))
	}
	return nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 72 {
		s = s[:69] + "..."
	}
	return s
}

// callAnthropic calls Claude through the Anthropic SDK, whose own spans
// reach the global TracerProvider; content mode makes them carry the
// messages.
func callAnthropic(ctx context.Context, baseURL, key string) (string, error) {
	client := anthropic.NewClient(
		anthropicoption.WithAPIKey(key),
		anthropicoption.WithBaseURL(baseURL),
		otelanthropic.WithContent(),
		anthropicoption.WithMiddleware(otelanthropic.Middleware()),
	)
	params := anthropic.MessageNewParams{
		Model:     "claude-haiku-4-5",
		MaxTokens: 256,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
	}
	msg, err := client.Messages.New(ctx, params)
	if err != nil {
		return "", err
	}
	stream := client.Messages.NewStreaming(ctx, params)
	defer stream.Close()
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		return "", fmt.Errorf("streamed message: %w", err)
	}
	if len(msg.Content) == 0 {
		return "", nil
	}
	return msg.Content[0].Text, nil
}

// callXAI calls Grok through the openai-go client, wrapped call by call with
// genai.Wrap.
func callXAI(ctx context.Context, tp *sdktrace.TracerProvider, baseURL, key string) (string, error) {
	cfg, err := genai.NewConfig(genai.WithTracerProvider(tp), genai.WithProviderName("x_ai"))
	if err != nil {
		return "", err
	}
	client := openai.NewClient(openaioption.WithAPIKey(key), openaioption.WithBaseURL(baseURL))
	params := openai.ChatCompletionNewParams{
		Model:    "grok-4",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	}
	completion, err := genai.Wrap(ctx, cfg, otelopenai.ChatCompletionRequest(params),
		func(ctx context.Context) (*openai.ChatCompletion, error) {
			c, err := client.Chat.Completions.New(ctx, params)
			return c, otelopenai.TypedError(err)
		},
		otelopenai.ChatCompletionResponse)
	if err != nil {
		return "", err
	}
	return firstChoice(completion), nil
}

// callMistral calls Mistral's OpenAI-compatible API through the openai-go
// client with the otelopenai middleware, which records every request.
func callMistral(ctx context.Context, tp *sdktrace.TracerProvider, baseURL, key string) (string, error) {
	client := openai.NewClient(
		openaioption.WithAPIKey(key),
		openaioption.WithBaseURL(baseURL),
		openaioption.WithMiddleware(otelopenai.Middleware(genai.WithTracerProvider(tp), genai.WithProviderName("mistral_ai"))),
	)
	completion, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "mistral-large-latest",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	})
	if err != nil {
		return "", err
	}
	return firstChoice(completion), nil
}

func firstChoice(c *openai.ChatCompletion) string {
	if c == nil || len(c.Choices) == 0 {
		return ""
	}
	return c.Choices[0].Message.Content
}

// callGemini calls Gemini through the google.golang.org/genai client with
// an instrumented HTTP client.
func callGemini(ctx context.Context, tp *sdktrace.TracerProvider, baseURL, key string) (string, error) {
	client, err := gg.NewClient(ctx, &gg.ClientConfig{
		APIKey:      key,
		Backend:     gg.BackendGeminiAPI,
		HTTPClient:  otelgemini.NewHTTPClient(nil, genai.WithTracerProvider(tp)),
		HTTPOptions: gg.HTTPOptions{BaseURL: baseURL},
	})
	if err != nil {
		return "", err
	}
	resp, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", gg.Text(prompt), nil)
	if err != nil {
		return "", err
	}
	return resp.Text(), nil
}
