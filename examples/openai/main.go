// Command openai records OpenAI calls, and a call to an OpenAI-compatible
// provider, as GenAI spans with the otelopenai middleware and prints each
// span when it ends.
//
// Environment:
//
//	OPENAI_API_KEY                 API key (required)
//	BIJOTEL_EXAMPLE_BASE_URL       OpenAI base URL (default https://api.openai.com/v1)
//	GROQ_API_KEY                   API key for the Groq call; the call is skipped when unset
//	BIJOTEL_EXAMPLE_GROQ_BASE_URL  Groq base URL (default https://api.groq.com/openai/v1)
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
		fmt.Fprintln(os.Stderr, "openai example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	key := os.Getenv("OPENAI_API_KEY")
	if key == "" {
		return errors.New("OPENAI_API_KEY is not set")
	}
	baseURL := envOr("BIJOTEL_EXAMPLE_BASE_URL", "https://api.openai.com/v1")

	// Spans go to a processor that prints them; a bijotel.Processor in its
	// place seals them into a chain.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(printer{out}))
	defer tp.Shutdown(ctx)

	client := openai.NewClient(
		option.WithAPIKey(key),
		option.WithBaseURL(baseURL),
		option.WithMiddleware(otelopenai.Middleware(genai.WithTracerProvider(tp))),
	)
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello in five words.")},
	}
	completion, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		return fmt.Errorf("chat completion: %w", err)
	}
	fmt.Fprintf(out, "reply: %s\n", completion.Choices[0].Message.Content)

	// A stream carries usage only when the request sets include_usage.
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var text string
	for stream.Next() {
		if ch := stream.Current().Choices; len(ch) > 0 {
			text += ch[0].Delta.Content
		}
	}
	if err := stream.Err(); err != nil {
		return fmt.Errorf("streamed chat completion: %w", err)
	}
	stream.Close()
	fmt.Fprintf(out, "streamed reply: %s\n", text)

	// An OpenAI-compatible provider is the same client with another base
	// URL; the provider name is set because a gateway's host may not say it.
	if groqKey := os.Getenv("GROQ_API_KEY"); groqKey != "" {
		groq := openai.NewClient(
			option.WithAPIKey(groqKey),
			option.WithBaseURL(envOr("BIJOTEL_EXAMPLE_GROQ_BASE_URL", "https://api.groq.com/openai/v1")),
			option.WithMiddleware(otelopenai.Middleware(genai.WithTracerProvider(tp), genai.WithProviderName("groq"))),
		)
		params.Model = "llama-3.3-70b-versatile"
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
		c, err := groq.Chat.Completions.New(ctx, params)
		if err != nil {
			return fmt.Errorf("groq chat completion: %w", err)
		}
		fmt.Fprintf(out, "groq reply: %s\n", c.Choices[0].Message.Content)
	}
	return tp.ForceFlush(ctx)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
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
