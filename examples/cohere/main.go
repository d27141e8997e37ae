// Command cohere records Cohere v2 chat calls made with the
// github.com/cohere-ai/cohere-go/v2 SDK as GenAI spans, through the
// otelcohere HTTP client, and prints each span when it ends.
//
// Environment:
//
//	CO_API_KEY                API key (required)
//	BIJOTEL_EXAMPLE_BASE_URL  Cohere API base URL (default https://api.cohere.com)
//	BIJOTEL_EXAMPLE_MODEL     model (default command-a-03-2025)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	cohere "github.com/cohere-ai/cohere-go/v2"
	"github.com/cohere-ai/cohere-go/v2/option"
	cohereclient "github.com/cohere-ai/cohere-go/v2/v2"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelcohere"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cohere example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	key := os.Getenv("CO_API_KEY")
	if key == "" {
		return errors.New("CO_API_KEY is not set")
	}
	model := envOr("BIJOTEL_EXAMPLE_MODEL", "command-a-03-2025")

	// Spans go to a processor that prints them; a bijotel.Processor in its
	// place seals them into a chain.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(printer{out}))
	defer tp.Shutdown(ctx)

	client := cohereclient.NewClient(
		option.WithToken(key),
		option.WithBaseURL(envOr("BIJOTEL_EXAMPLE_BASE_URL", "https://api.cohere.com")),
		option.WithHTTPClient(otelcohere.NewHTTPClient(nil, genai.WithTracerProvider(tp))),
	)
	messages := cohere.ChatMessages{{Role: "user", User: &cohere.UserMessageV2{Content: &cohere.UserMessageV2Content{String: "Say hello in five words."}}}}

	resp, err := client.Chat(ctx, &cohere.V2ChatRequest{Model: model, Messages: messages})
	if err != nil {
		return fmt.Errorf("chat: %w", err)
	}
	for _, item := range resp.Message.Content {
		if item.Text != nil {
			fmt.Fprintf(out, "reply: %s\n", item.Text.Text)
		}
	}

	stream, err := client.ChatStream(ctx, &cohere.V2ChatStreamRequest{Model: model, Messages: messages})
	if err != nil {
		return fmt.Errorf("chat stream: %w", err)
	}
	// Close ends the span even when the loop stops before the end.
	defer stream.Close()
	var text string
	for {
		event, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("chat stream: %w", err)
		}
		if d := event.ContentDelta; d != nil && d.Delta != nil && d.Delta.Message != nil && d.Delta.Message.Content != nil && d.Delta.Message.Content.Text != nil {
			text += *d.Delta.Message.Content.Text
		}
	}
	stream.Close()
	fmt.Fprintf(out, "streamed reply: %s\n", text)
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
