package otelgemini

import (
	"context"
	"io"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bijotel/bijotel-go/genai"
)

// chunkReader returns at most size bytes per Read, as a slow connection
// would.
type chunkReader struct {
	data string
	size int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.size)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// cumulativeUsageStream is a streamGenerateContent body whose three chunks
// repeat the cumulative counts so far: 120/4, 120/19 and 120/37.
const cumulativeUsageStream = `data: {"candidates":[{"content":{"parts":[{"text":"Paris is"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":4,"totalTokenCount":124},"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0001"}

data: {"candidates":[{"content":{"parts":[{"text":" the capital"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":19,"totalTokenCount":139},"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0001"}

data: {"candidates":[{"content":{"parts":[{"text":" of France."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":37,"totalTokenCount":157},"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0001"}

`

// readThrough reads body to its end through a body wrapper, in reads of at
// most size bytes, and returns the attributes of the call's span.
func readThrough(t *testing.T, body string, size int, acc accumulator, sse bool) map[attribute.Key]attribute.Value {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cfg, err := genai.NewConfig(genai.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	ctx, call := cfg.Start(context.Background(), genai.Request{Provider: "gcp.gemini", Operation: genai.OperationGenerateContent})
	b := newBody(ctx, io.NopCloser(&chunkReader{data: body, size: size}), call, acc, sse)
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != body {
		t.Errorf("application read %d bytes, want the %d bytes sent", len(got), len(body))
	}
	b.Close()
	if n := len(rec.Ended()); n != 1 {
		t.Fatalf("%d spans ended, want 1", n)
	}
	a := make(map[attribute.Key]attribute.Value)
	for _, kv := range rec.Ended()[0].Attributes() {
		a[kv.Key] = kv.Value
	}
	return a
}

func TestStreamParsingIgnoresReadSizes(t *testing.T) {
	bodies := map[string]string{
		"LF":   cumulativeUsageStream,
		"CRLF": strings.ReplaceAll(cumulativeUsageStream, "\n", "\r\n"),
		// The last event has no blank line after it.
		"unterminated": strings.TrimRight(cumulativeUsageStream, "\n"),
	}
	for name, body := range bodies {
		for _, size := range []int{1, 2, 7, 64, len(body)} {
			a := readThrough(t, body, size, &reply{stream: true}, true)
			if in, out := a["gen_ai.usage.input_tokens"].AsInt64(), a["gen_ai.usage.output_tokens"].AsInt64(); in != 120 || out != 37 {
				t.Errorf("%s in reads of %d: usage = %d/%d, want 120/37", name, size, in, out)
			}
			if got := a["gen_ai.output.messages"].AsString(); got != `[{"finish_reason":"stop","parts":[{"content":"Paris is the capital of France.","type":"text"}],"role":"assistant"}]` {
				t.Errorf("%s in reads of %d: output = %s", name, size, got)
			}
			if v, ok := a["bijotel.response.incomplete"]; ok {
				t.Errorf("%s in reads of %d: incomplete = %s", name, size, v.Emit())
			}
		}
	}
}

func TestJSONArrayCutShortKeepsWholeChunks(t *testing.T) {
	body := `[{"candidates":[{"content":{"parts":[{"text":"Paris is"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":4,"totalTokenCount":124}},
{"candidates":[{"content":{"parts":[{"text":" the cap`
	a := readThrough(t, body, 16, &reply{stream: true}, false)
	if got := a["gen_ai.usage.output_tokens"].AsInt64(); got != 4 {
		t.Errorf("output tokens = %d, want 4 from the one whole chunk", got)
	}
	if got := a["bijotel.response.incomplete_reason"].AsString(); got != "response ended before its final event" {
		t.Errorf("incomplete reason = %q", got)
	}
}
