package otelanthropic_test

import (
	"context"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bijotel/bijotel-go/fakeprovider"
)

// replay streams a recorded transcript through the SDK, reading it to the
// end, and returns the call's one span and the message that the SDK's own
// accumulator built.
func replay(t *testing.T, scenario string) (sdktrace.ReadOnlySpan, anthropic.Message, []error) {
	t.Helper()
	h := newHarness(t)
	stream := h.client.Messages.NewStreaming(context.Background(), helloParams("claude-sonnet-4-5"),
		option.WithHeader(fakeprovider.HeaderScenario, scenario))
	var msg anthropic.Message
	var accErrs []error
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			accErrs = append(accErrs, err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	return h.onlySpan(t), msg, accErrs
}

// wantHelloUsage checks the usage of msg_test_0001: input 12, cache read 5,
// cache creation 0 and output 15, with input_tokens recorded as the sum 17.
// Output 16 (1 + 15 added up), input 0 (overwritten), 24 or 26 (doubled) and
// 14 (the gateway's estimate kept) are the wrong values this rules out.
func wantHelloUsage(t *testing.T, s sdktrace.ReadOnlySpan) {
	t.Helper()
	wantString(t, s, "gen_ai.response.id", "msg_test_0001")
	wantStrings(t, s, "gen_ai.response.finish_reasons", "end_turn")
	wantInt(t, s, "gen_ai.usage.input_tokens", 17)
	wantInt(t, s, "gen_ai.usage.output_tokens", 15)
	wantInt(t, s, "gen_ai.usage.cache_read.input_tokens", 5)
	wantInt(t, s, "gen_ai.usage.cache_creation.input_tokens", 0)
	wantBool(t, s, "bijotel.usage.missing", false)
	wantJSON(t, s, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Hello!"}]}]`)
}

// message_start carries input and cache counts; message_delta carries only
// the final output count, which must not erase them.
func TestStreamUsageStartThenOutput(t *testing.T) {
	s, _, _ := replay(t, fakeprovider.ScenarioAnthropicCacheUsage)
	wantHelloUsage(t, s)
}

// message_start carries an estimate and message_delta the final counts,
// which replace it.
func TestStreamUsageEstimateThenFinal(t *testing.T) {
	s, _, _ := replay(t, fakeprovider.ScenarioAnthropicGatewayUsage)
	wantHelloUsage(t, s)
}

// The streamed usage equals that of the same reply unstreamed.
func TestStreamUsageMatchesPlain(t *testing.T) {
	streamed, _, _ := replay(t, fakeprovider.ScenarioAnthropicCacheUsage)

	h := newHarness(t)
	if _, err := h.client.Messages.New(context.Background(), helloParams("claude-sonnet-4-5"),
		option.WithHeader(fakeprovider.HeaderScenario, fakeprovider.ScenarioAnthropicCacheUsage)); err != nil {
		t.Fatal(err)
	}
	plain := h.onlySpan(t)
	wantHelloUsage(t, plain)
	for _, key := range []attribute.Key{
		"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
		"gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
	} {
		if p, s := attrs(plain)[key], attrs(streamed)[key]; p != s {
			t.Errorf("%s: plain %s, streamed %s", key, p.Emit(), s.Emit())
		}
	}
}

// Tool input split inside names and values is joined before it is parsed,
// and a tool_use without input deltas gets {}.
func TestStreamToolFragments(t *testing.T) {
	s, _, _ := replay(t, fakeprovider.ScenarioAnthropicToolFragments)
	wantInt(t, s, "gen_ai.usage.input_tokens", 40)
	wantInt(t, s, "gen_ai.usage.output_tokens", 38)
	wantStrings(t, s, "gen_ai.response.finish_reasons", "tool_use")
	wantJSON(t, s, "gen_ai.output.messages", `[{"role":"assistant","parts":[`+
		`{"type":"text","content":"Checking."},`+
		`{"type":"tool_call","id":"toolu_test_0001","name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}},`+
		`{"type":"tool_call","id":"toolu_test_0002","name":"get_time","arguments":{}}]}]`)
	wantAbsent(t, s, "bijotel.response.incomplete")
}

// A delta for a block that never started does not lose the call: there is
// one span with the usage and finish reason, and a marker states why
// its output is missing. The SDK's accumulator (v2.17.0) rejects the event, so
// the SDK's span carries no gen_ai.output.messages at all.
func TestStreamOrphanDelta(t *testing.T) {
	s, _, accErrs := replay(t, fakeprovider.ScenarioAnthropicOrphanDelta)
	if len(accErrs) == 0 {
		t.Error("the SDK's accumulator accepted the orphan delta; the marker may no longer be needed")
	}
	if s.Status().Code == codes.Error {
		t.Errorf("status = %v, want no error", s.Status())
	}
	wantInt(t, s, "gen_ai.usage.output_tokens", 20)
	wantStrings(t, s, "gen_ai.response.finish_reasons", "end_turn")
	wantBool(t, s, "bijotel.response.incomplete", true)
	wantString(t, s, "bijotel.response.incomplete_reason",
		"content_block_delta for index 1 without content_block_start")
	wantAbsent(t, s, "gen_ai.output.messages")
}

// A tool_use cut off by max_tokens: the SDK's span records its arguments as
// {}, so the span is marked to say that they are not what the model sent.
func TestStreamToolInputCutOff(t *testing.T) {
	s, _, _ := replay(t, fakeprovider.ScenarioAnthropicCutToolInput)
	wantInt(t, s, "gen_ai.usage.output_tokens", 24)
	wantStrings(t, s, "gen_ai.response.finish_reasons", "max_tokens")
	wantBool(t, s, "bijotel.response.incomplete", true)
	wantString(t, s, "bijotel.response.incomplete_reason",
		"tool_use block toolu_test_0001 stopped with input that is not valid JSON")
	wantJSON(t, s, "gen_ai.output.messages", `[{"role":"assistant","parts":[`+
		`{"type":"text","content":"Checking."},`+
		`{"type":"tool_call","id":"toolu_test_0001","name":"get_weather","arguments":{}}]}]`)
}
