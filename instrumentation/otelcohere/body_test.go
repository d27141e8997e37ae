package otelcohere

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

// toolStream is a v2 chat stream with every event ended by a blank line: a
// tool plan, and a tool call whose arguments arrive in fragments split
// inside names and values.
const toolStream = `event: message-start
data: {"id":"msg-test-0003","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}

event: tool-plan-delta
data: {"type":"tool-plan-delta","delta":{"message":{"tool_plan":"I will check"}}}

event: tool-plan-delta
data: {"type":"tool-plan-delta","delta":{"message":{"tool_plan":" the weather."}}}

event: tool-call-start
data: {"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"get_weather_test","type":"function","function":{"name":"get_weather","arguments":""}}}}}

event: tool-call-delta
data: {"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"{\"loca"}}}}}

event: tool-call-delta
data: {"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"tion\":\"Par"}}}}}

event: tool-call-delta
data: {"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"is\"}"}}}}}

event: tool-call-end
data: {"type":"tool-call-end","index":0}

event: message-end
data: {"type":"message-end","delta":{"finish_reason":"TOOL_CALL","usage":{"billed_units":{"input_tokens":20,"output_tokens":12},"tokens":{"input_tokens":31,"output_tokens":12}}}}

data: [DONE]

`

func readThrough(t *testing.T, body string, size int) map[attribute.Key]attribute.Value {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cfg, err := genai.NewConfig(genai.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	ctx, call := cfg.Start(context.Background(), genai.Request{Provider: "cohere", Operation: genai.OperationChat})
	b := newBody(ctx, io.NopCloser(&chunkReader{data: body, size: size}), call, &replyStream{}, true)
	if _, err := io.ReadAll(b); err != nil {
		t.Fatal(err)
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
	const want = `[{"finish_reason":"tool_call","parts":[{"content":"I will check the weather.","type":"reasoning"},{"arguments":{"location":"Paris"},"id":"get_weather_test","name":"get_weather","type":"tool_call"}],"role":"assistant"}]`
	for _, body := range []string{toolStream, strings.ReplaceAll(toolStream, "\n", "\r\n")} {
		for _, size := range []int{1, 3, 50, len(body)} {
			a := readThrough(t, body, size)
			if got := a["gen_ai.output.messages"].AsString(); got != want {
				t.Errorf("reads of %d: output = %s", size, got)
			}
			if in, out := a["gen_ai.usage.input_tokens"].AsInt64(), a["gen_ai.usage.output_tokens"].AsInt64(); in != 31 || out != 12 {
				t.Errorf("reads of %d: usage = %d/%d, want tokens 31/12", size, in, out)
			}
			if v, ok := a["bijotel.response.incomplete"]; ok {
				t.Errorf("reads of %d: incomplete = %s", size, v.Emit())
			}
		}
	}
}

func TestStreamCutInsideToolArguments(t *testing.T) {
	cut := toolStream[:strings.Index(toolStream, "event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"is")]
	a := readThrough(t, cut, 64)
	// The arguments that arrived are not valid JSON, so they are kept as
	// the text that arrived instead of an empty object.
	if got := a["gen_ai.output.messages"].AsString(); !strings.Contains(got, `"arguments":"{\"location\":\"Par"`) {
		t.Errorf("output = %s, want the partial arguments as text", got)
	}
	if got := a["bijotel.response.incomplete_reason"].AsString(); got != "response ended before its final event" {
		t.Errorf("incomplete reason = %q", got)
	}
	if v, ok := a["gen_ai.usage.input_tokens"]; ok {
		t.Errorf("input tokens = %s, want absent", v.Emit())
	}
}

func TestCloseRecordsEventBeforeBlankLine(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cfg, err := genai.NewConfig(genai.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	ctx, call := cfg.Start(context.Background(), genai.Request{Provider: "cohere", Operation: genai.OperationChat})
	// The body stops after the data line of the first content-delta, before
	// its blank line, and in the middle of the next data line.
	sent := "event: message-start\ndata: {\"id\":\"msg-test-0004\",\"type\":\"message-start\"}\n\n" +
		"event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"Hello\"}}}}\n"
	b := newBody(ctx, io.NopCloser(strings.NewReader(sent+"\nevent: content-delta\ndata: {\"type\":\"con")), call, &replyStream{}, true)
	buf := make([]byte, len(sent))
	if _, err := io.ReadFull(b, buf); err != nil {
		t.Fatal(err)
	}
	b.Close()

	a := make(map[attribute.Key]attribute.Value)
	for _, kv := range rec.Ended()[0].Attributes() {
		a[kv.Key] = kv.Value
	}
	if got := a["gen_ai.output.messages"].AsString(); got != `[{"parts":[{"content":"Hello","type":"text"}],"role":"assistant"}]` {
		t.Errorf("output = %s, want the delta whose data line was complete", got)
	}
	if got := a["bijotel.response.incomplete_reason"].AsString(); got != "closed before the end of the response" {
		t.Errorf("incomplete reason = %q", got)
	}
}
