// Command gemini records Google Gemini calls made with the
// google.golang.org/genai SDK as GenAI spans, through the otelgemini HTTP
// client, and prints each span when it ends.
//
// Environment:
//
//	GEMINI_API_KEY            API key (required)
//	BIJOTEL_EXAMPLE_BASE_URL  Gemini API base URL (default: the SDK's, https://generativelanguage.googleapis.com/)
//	BIJOTEL_EXAMPLE_MODEL     model (default gemini-2.5-flash)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	gg "google.golang.org/genai"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelgemini"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gemini example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	key := os.Getenv("GEMINI_API_KEY")
	if key == "" {
		return errors.New("GEMINI_API_KEY is not set")
	}
	model := envOr("BIJOTEL_EXAMPLE_MODEL", "gemini-2.5-flash")

	// Spans go to a processor that prints them; a bijotel.Processor in its
	// place seals them into a chain.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(printer{out}))
	defer tp.Shutdown(ctx)

	client, err := gg.NewClient(ctx, &gg.ClientConfig{
		APIKey:      key,
		Backend:     gg.BackendGeminiAPI,
		HTTPClient:  otelgemini.NewHTTPClient(nil, genai.WithTracerProvider(tp)),
		HTTPOptions: gg.HTTPOptions{BaseURL: os.Getenv("BIJOTEL_EXAMPLE_BASE_URL")},
	})
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}

	resp, err := client.Models.GenerateContent(ctx, model, gg.Text("What is the capital of France?"), nil)
	if err != nil {
		return fmt.Errorf("generate content: %w", err)
	}
	fmt.Fprintf(out, "reply: %s\n", resp.Text())

	// Leaving the range loop early, by break or error, still ends the
	// span, because the SDK closes the response body.
	var text string
	for chunk, err := range client.Models.GenerateContentStream(ctx, model, gg.Text("What is the capital of France?"), nil) {
		if err != nil {
			return fmt.Errorf("stream generate content: %w", err)
		}
		text += chunk.Text()
	}
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
