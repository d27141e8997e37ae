// Command multi-provider seals calls to Anthropic, xAI, Mistral and Gemini
// into one bijotel chain: the wiring to copy into a service.
//
// Environment:
//
//	BIJOTEL_HMAC_SECRET   hex HMAC secret of the chain (bijotel keygen makes one)
//	ANTHROPIC_API_KEY, XAI_API_KEY, MISTRAL_API_KEY, GEMINI_API_KEY
//	                      API keys; a provider without a key is skipped
//	BIJOTEL_EXAMPLE_ANTHROPIC_URL, BIJOTEL_EXAMPLE_XAI_URL,
//	BIJOTEL_EXAMPLE_MISTRAL_URL, BIJOTEL_EXAMPLE_GEMINI_URL
//	                      base URLs, to point the example at test servers
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	gg "google.golang.org/genai"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelanthropic"
	"github.com/bijotel/bijotel-go/instrumentation/otelgemini"
	"github.com/bijotel/bijotel-go/instrumentation/otelopenai"
)

func main() {
	ctx := context.Background()
	secret, err := bijotel.ParseSecret(os.Getenv("BIJOTEL_HMAC_SECRET"))
	if err != nil {
		log.Fatalf("BIJOTEL_HMAC_SECRET: %v", err)
	}

	// Every span with gen_ai.* attributes is sealed into chain.db.
	p, err := bijotel.NewProcessor("chain.db", secret)
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
	otel.SetTracerProvider(tp)
	defer tp.Shutdown(ctx) // flushes the last spans and closes the chain

	question := "Summarise the incident report in two sentences."

	// Anthropic: the SDK emits its own spans; content mode adds the messages.
	if key := os.Getenv("ANTHROPIC_API_KEY"); key != "" {
		opts := []anthropicoption.RequestOption{
			anthropicoption.WithAPIKey(key),
			otelanthropic.WithContent(),
			anthropicoption.WithMiddleware(otelanthropic.Middleware()),
		}
		if u := os.Getenv("BIJOTEL_EXAMPLE_ANTHROPIC_URL"); u != "" {
			opts = append(opts, anthropicoption.WithBaseURL(u))
		}
		client := anthropic.NewClient(opts...)
		msg, err := client.Messages.New(ctx, anthropic.MessageNewParams{
			Model:     "claude-haiku-4-5",
			MaxTokens: 256,
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(question))},
		})
		report("anthropic", err, func() string { return msg.Content[0].Text })
	}

	// xAI: an OpenAI-compatible API; each call wrapped with genai.Wrap.
	if key := os.Getenv("XAI_API_KEY"); key != "" {
		cfg, err := genai.NewConfig(genai.WithProviderName("x_ai"))
		if err != nil {
			log.Fatal(err)
		}
		client := openai.NewClient(openaioption.WithAPIKey(key), openaioption.WithBaseURL(envOr("BIJOTEL_EXAMPLE_XAI_URL", "https://api.x.ai/v1")))
		params := openai.ChatCompletionNewParams{Model: "grok-4", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(question)}}
		c, err := genai.Wrap(ctx, cfg, otelopenai.ChatCompletionRequest(params),
			func(ctx context.Context) (*openai.ChatCompletion, error) {
				c, err := client.Chat.Completions.New(ctx, params)
				return c, otelopenai.TypedError(err)
			},
			otelopenai.ChatCompletionResponse)
		report("x_ai", err, func() string { return c.Choices[0].Message.Content })
	}

	// Mistral: an OpenAI-compatible API; the middleware records every call.
	if key := os.Getenv("MISTRAL_API_KEY"); key != "" {
		client := openai.NewClient(
			openaioption.WithAPIKey(key),
			openaioption.WithBaseURL(envOr("BIJOTEL_EXAMPLE_MISTRAL_URL", "https://api.mistral.ai/v1")),
			openaioption.WithMiddleware(otelopenai.Middleware(genai.WithProviderName("mistral_ai"))),
		)
		c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "mistral-large-latest",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(question)},
		})
		report("mistral_ai", err, func() string { return c.Choices[0].Message.Content })
	}

	// Gemini: an instrumented HTTP client.
	if key := os.Getenv("GEMINI_API_KEY"); key != "" {
		client, err := gg.NewClient(ctx, &gg.ClientConfig{
			APIKey:      key,
			Backend:     gg.BackendGeminiAPI,
			HTTPClient:  otelgemini.NewHTTPClient(nil),
			HTTPOptions: gg.HTTPOptions{BaseURL: os.Getenv("BIJOTEL_EXAMPLE_GEMINI_URL")},
		})
		if err != nil {
			log.Fatal(err)
		}
		resp, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", gg.Text(question), nil)
		report("gcp.gemini", err, func() string { return resp.Text() })
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// report prints a call's reply, or its error and the fact that the failed
// call is sealed too.
func report(provider string, err error, reply func() string) {
	if err != nil {
		fmt.Printf("%s: failed, and sealed as an error span: %v\n", provider, err)
		return
	}
	fmt.Printf("%s: %s\n", provider, reply())
}
