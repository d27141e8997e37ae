package jcs_test

import (
	"testing"

	"github.com/bijotel/bijotel-go/jcs"
)

// benchmarkSpan returns a span body of about 1 KB with the shapes that a
// sealed LLM call contains: nested objects, long and short strings,
// integers, floats and arrays.
func benchmarkSpan() map[string]any {
	return map[string]any{
		"name":               "anthropic.chat",
		"kind":               "CLIENT",
		"trace_id":           "66874e8fb1ee3a31a21ca650fb53be6b",
		"span_id":            "dd41b9338ca88e57",
		"start_time_ns":      "1779523202500843000",
		"end_time_ns":        "1779523204340966457",
		"status_code":        "UNSET",
		"status_description": nil,
		"attributes": map[string]any{
			"gen_ai.system":                     "Anthropic",
			"gen_ai.request.model":              "claude-haiku-4-5-20251001",
			"gen_ai.request.max_tokens":         int64(1024),
			"gen_ai.request.temperature":        0.7,
			"gen_ai.request.top_p":              0.95,
			"gen_ai.prompt.0.role":              "user",
			"gen_ai.prompt.0.content":           "Summarise the incident report in two sentences. Mention the start time, the cause and the fix.",
			"gen_ai.completion.0.role":          "assistant",
			"gen_ai.completion.0.content":       "The outage began at 02:14 UTC when a config push removed the cache tier.\nService was restored at 02:51 after a rollback.",
			"gen_ai.completion.0.finish_reason": "end_turn",
			"gen_ai.response.id":                "msg_01118b86cc39511e6fd23dcf",
			"gen_ai.usage.input_tokens":         int64(31),
			"gen_ai.usage.output_tokens":        int64(38),
			"llm.usage.total_tokens":            int64(69),
			"llm.request.functions":             []string{"search", "fetch", "summarise"},
			"cost.usd":                          0.000412,
			"tags":                              []any{"prod", "eu-west-1", true, int64(3)},
		},
		"resource": map[string]any{
			"service.name":    "incident-bot",
			"service.version": "1.4.2",
			"host.name":       "worker-7",
		},
	}
}

func BenchmarkMarshal(b *testing.B) {
	v := benchmarkSpan()
	out, err := jcs.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()

	for b.Loop() {
		if _, err := jcs.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	v := benchmarkSpan()
	buf, err := jcs.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()

	for b.Loop() {
		if buf, err = jcs.Append(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := jcs.Marshal(benchmarkSpan())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()

	for b.Loop() {
		if _, err := jcs.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransform(b *testing.B) {
	data, err := jcs.Marshal(benchmarkSpan())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()

	for b.Loop() {
		if _, err := jcs.Transform(data); err != nil {
			b.Fatal(err)
		}
	}
}
