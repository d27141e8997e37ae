// Command anthropic records Claude calls with the Anthropic SDK's own
// OpenTelemetry spans, completed by the otelanthropic middleware, and prints
// each span when it ends.
//
// Environment:
//
//	ANTHROPIC_API_KEY         API key (required)
//	BIJOTEL_EXAMPLE_BASE_URL  API base URL (default https://api.anthropic.com)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bijotel/bijotel-go/instrumentation/otelanthropic"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "anthropic example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	key := os.Getenv("ANTHROPIC_API_KEY")
	if key == "" {
		return errors.New("ANTHROPIC_API_KEY is not set")
	}
	baseURL := os.Getenv("BIJOTEL_EXAMPLE_BASE_URL")
	if baseURL == "" {
		baseURL = "https://api.anthropic.com"
	}

	// The SDK creates its spans through the global TracerProvider. A
	// bijotel.Processor in place of the printer seals them into a chain.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(printer{out}))
	defer tp.Shutdown(ctx)
	otel.SetTracerProvider(tp)

	client := anthropic.NewClient(
		option.WithAPIKey(key),
		option.WithBaseURL(baseURL),
		otelanthropic.WithContent(),
		option.WithMiddleware(otelanthropic.Middleware()),
	)
	params := anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 256,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello in five words."))},
	}
	msg, err := client.Messages.New(ctx, params)
	if err != nil {
		return fmt.Errorf("message: %w", err)
	}
	fmt.Fprintf(out, "reply: %s\n", msg.Content[0].Text)

	stream := client.Messages.NewStreaming(ctx, params)
	var text string
	for stream.Next() {
		if e := stream.Current(); e.Type == "content_block_delta" {
			text += e.Delta.Text
		}
	}
	if err := stream.Err(); err != nil {
		return fmt.Errorf("streamed message: %w", err)
	}
	stream.Close()
	fmt.Fprintf(out, "streamed reply: %s\n", text)
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
