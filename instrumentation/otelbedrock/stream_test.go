package otelbedrock

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bijotel/bijotel-go/genai"
)

// chunkReader returns at most size bytes per Read, as a slow connection
// would.
type chunkReader struct {
	data []byte
	size int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.size)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// encodeEvents encodes pairs of event type and JSON payload as event
// stream messages.
func encodeEvents(t *testing.T, pairs ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for i := 0; i < len(pairs); i += 2 {
		var msg eventstream.Message
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		msg.Headers.Set(":event-type", eventstream.StringValue(pairs[i]))
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		msg.Payload = []byte(pairs[i+1])
		if err := enc.Encode(&buf, msg); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func readThrough(t *testing.T, body []byte, size int) map[attribute.Key]attribute.Value {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cfg, err := genai.NewConfig(genai.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	ctx, call := cfg.Start(context.Background(), genai.Request{Provider: "aws.bedrock", Operation: genai.OperationChat})
	b := newEventBody(ctx, io.NopCloser(&chunkReader{data: body, size: size}), call)
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
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

func TestEventStreamIgnoresReadSizes(t *testing.T) {
	body := encodeEvents(t,
		"messageStart", `{"role":"assistant","p":"abcdefgh"}`,
		"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"Thinking."}}}`,
		"contentBlockStop", `{"contentBlockIndex":0}`,
		"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"text":"Hi"}}`,
		"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"text":" there."}}`,
		"contentBlockStop", `{"contentBlockIndex":1}`,
		"messageStop", `{"stopReason":"end_turn"}`,
		"metadata", `{"usage":{"inputTokens":3,"outputTokens":4,"totalTokens":17,"cacheReadInputTokens":8,"cacheWriteInputTokens":2},"metrics":{"latencyMs":9}}`,
	)
	for _, size := range []int{1, 5, 100, len(body)} {
		a := readThrough(t, body, size)
		if got := a["gen_ai.output.messages"].AsString(); got != `[{"finish_reason":"stop","parts":[{"content":"Thinking.","type":"reasoning"},{"content":"Hi there.","type":"text"}],"role":"assistant"}]` {
			t.Errorf("reads of %d: output = %s", size, got)
		}
		// 3 uncached + 8 read from the cache + 2 written to it.
		if got := a["gen_ai.usage.input_tokens"].AsInt64(); got != 13 {
			t.Errorf("reads of %d: input tokens = %d, want 13", size, got)
		}
		if v, ok := a["bijotel.response.incomplete"]; ok {
			t.Errorf("reads of %d: incomplete = %s", size, v.Emit())
		}
	}
}

func TestEventStreamBadFramingPassesThrough(t *testing.T) {
	body := append(encodeEvents(t, "messageStart", `{"role":"assistant"}`), 0, 0, 0, 5, 1, 2, 3, 4)
	a := readThrough(t, body, 7)
	if got := a["bijotel.response.incomplete_reason"].AsString(); got != "event stream framing was not understood" {
		t.Errorf("incomplete reason = %q", got)
	}
}
