// Command wrap records a call with genai.Wrap, the instrumentation for any
// client that has no middleware hook, and prints the span. The call here
// uses the openai-go client without its middleware, with the otelopenai
// helpers that describe its request and result.
//
// Environment:
//
//	OPENAI_API_KEY            API key (required)
//	BIJOTEL_EXAMPLE_BASE_URL  OpenAI base URL (default https://api.openai.com/v1)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelopenai"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wrap example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	key := os.Getenv("OPENAI_API_KEY")
	if key == "" {
		return errors.New("OPENAI_API_KEY is not set")
	}
	baseURL := os.Getenv("BIJOTEL_EXAMPLE_BASE_URL")
	if baseURL == "" {
		baseURL = "https://api.openai.com/v1"
	}

	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(printer{out}))
	defer tp.Shutdown(ctx)
	cfg, err := genai.NewConfig(genai.WithTracerProvider(tp), genai.WithContentMode(genai.HashContent))
	if err != nil {
		return err
	}

	client := openai.NewClient(option.WithAPIKey(key), option.WithBaseURL(baseURL))
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello in five words.")},
	}
	completion, err := genai.Wrap(ctx, cfg, otelopenai.ChatCompletionRequest(params),
		func(ctx context.Context) (*openai.ChatCompletion, error) {
			c, err := client.Chat.Completions.New(ctx, params)
			return c, otelopenai.TypedError(err)
		},
		otelopenai.ChatCompletionResponse)
	if err != nil {
		return fmt.Errorf("chat completion: %w", err)
	}
	fmt.Fprintf(out, "reply: %s\n", completion.Choices[0].Message.Content)
	fmt.Fprintf(out, "sha256 of the prompt, as the span records it: %s\n", genai.HashText("Say hello in five words."))
	return tp.ForceFlush(ctx)
}

// printer is a span processor that prints each ended span's name and
// attributes.
type printer struct{ out io.Writer }

func (p printer) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p printer) OnEnd(s sdktrace.ReadOnlySpan) {
	fmt.Fprintf(p.out, "span %q status=%s\n", s.Name(), s.Status().Code)
	lines := make([]string, 0, len(s.Attributes()))
	for _, kv := range s.Attributes() {
		lines = append(lines, fmt.Sprintf("  %s = %s", kv.Key, kv.Value.Emit()))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(p.out, l)
	}
}

func (p printer) Shutdown(context.Context) error   { return nil }
func (p printer) ForceFlush(context.Context) error { return nil }
