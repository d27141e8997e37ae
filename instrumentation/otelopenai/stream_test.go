package otelopenai_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/otel/codes"

	"github.com/bijotel/bijotel-go/fakeprovider"
)

// The stream tests replay one recorded Chat Completions stream for the
// request {"model":"gpt-4o-mini","messages":[{"role":"user","content":"What
// is 6 times 7?"}],"stream":true,"stream_options":{"include_usage":true}}
// and stop reading it in different ways. Whichever way the stream ends, the
// call has exactly one span.

func answerParams(includeUsage bool) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is 6 times 7?")},
	}
	if includeUsage {
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	}
	return p
}

const answerOutput = `[{"finish_reason":"stop","parts":[{"content":"The answer","type":"text"}],"role":"assistant"}]`

func TestStreamReadToEnd(t *testing.T) {
	h := newHarness(t, "/v1/")
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), answerParams(true),
		option.WithHeader(fakeprovider.HeaderScenario, fakeprovider.ScenarioChatAnswer))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()

	s := h.onlySpan(t)
	wantString(t, s, "gen_ai.response.id", "chatcmpl-test-0001")
	wantString(t, s, "gen_ai.response.model", "gpt-4o-mini-2024-07-18")
	wantStrings(t, s, "gen_ai.response.finish_reasons", "stop")
	wantInt(t, s, "gen_ai.usage.input_tokens", 9)
	wantInt(t, s, "gen_ai.usage.output_tokens", 2)
	wantBool(t, s, "bijotel.usage.missing", false)
	// The recorded output is compared byte for byte: it is the canonical
	// JSON that the chain seals.
	if got := attrs(s)["gen_ai.output.messages"].AsString(); got != answerOutput {
		t.Errorf("gen_ai.output.messages =\n%s\nwant\n%s", got, answerOutput)
	}
	wantAbsent(t, s, "bijotel.response.incomplete", "error.type")
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v, want Unset", s.Status())
	}
}

func TestStreamClosedAfterTwoEvents(t *testing.T) {
	h := newHarness(t, "/v1/")
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), answerParams(true),
		option.WithHeader(fakeprovider.HeaderScenario, fakeprovider.ScenarioChatAnswer),
		option.WithHeader(fakeprovider.HeaderHoldAfter, "2"))
	for range 2 {
		if !stream.Next() {
			t.Fatalf("stream ended early: %v", stream.Err())
		}
	}
	if err := h.tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(h.rec.Ended()); n != 0 {
		t.Fatalf("ended spans before Close = %d, want 0", n)
	}
	stream.Close()

	s := h.onlySpan(t)
	wantString(t, s, "gen_ai.response.id", "chatcmpl-test-0001")
	wantJSON(t, s, "gen_ai.output.messages", `[{"parts":[{"content":"The","type":"text"}],"role":"assistant"}]`)
	wantNoUsage(t, s)
	wantAbsent(t, s, "gen_ai.response.finish_reasons", "error.type")
	wantBool(t, s, "bijotel.response.incomplete", true)
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v, want Unset because the client chose to stop", s.Status())
	}
}

func TestStreamClosedUnread(t *testing.T) {
	h := newHarness(t, "/v1/")
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), answerParams(true),
		option.WithHeader(fakeprovider.HeaderScenario, fakeprovider.ScenarioChatAnswer),
		option.WithHeader(fakeprovider.HeaderHoldAfter, "0"))
	stream.Close()

	s := h.onlySpan(t)
	wantNoUsage(t, s)
	wantAbsent(t, s, "gen_ai.output.messages", "gen_ai.response.id", "gen_ai.response.finish_reasons", "error.type")
	wantBool(t, s, "bijotel.response.incomplete", true)
}

func TestStreamContextCanceled(t *testing.T) {
	h := newHarness(t, "/v1/")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := h.client.Chat.Completions.NewStreaming(ctx, answerParams(true),
		option.WithHeader(fakeprovider.HeaderScenario, fakeprovider.ScenarioChatAnswer),
		option.WithHeader(fakeprovider.HeaderHoldAfter, "2"))
	for range 2 {
		if !stream.Next() {
			t.Fatalf("stream ended early: %v", stream.Err())
		}
	}
	cancel()
	stream.Close()

	s := h.onlySpan(t)
	if s.Status().Code != codes.Error || s.Status().Description != context.Canceled.Error() {
		t.Errorf("status = %v, want Error %q", s.Status(), context.Canceled.Error())
	}
	wantString(t, s, "error.type", "canceled")
	wantString(t, s, "gen_ai.response.id", "chatcmpl-test-0001")
	wantNoUsage(t, s)
}

// A context canceled while the application is blocked in Next ends the
// span through the failed read.
func TestStreamCanceledDuringRead(t *testing.T) {
	h := newHarness(t, "/v1/")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := h.client.Chat.Completions.NewStreaming(ctx, answerParams(true),
		option.WithHeader(fakeprovider.HeaderScenario, fakeprovider.ScenarioChatAnswer),
		option.WithHeader(fakeprovider.HeaderHoldAfter, "2"))
	for range 2 {
		stream.Next()
	}
	done := make(chan bool)
	go func() { done <- stream.Next() }()
	cancel()
	if <-done {
		t.Fatal("Next = true after cancel, want false")
	}
	if !errors.Is(stream.Err(), context.Canceled) {
		t.Errorf("stream error = %v, want context.Canceled", stream.Err())
	}
	stream.Close()

	s := h.onlySpan(t)
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v, want Error", s.Status())
	}
	wantString(t, s, "error.type", "canceled")
}

func TestStreamWithoutUsageChunk(t *testing.T) {
	h := newHarness(t, "/v1/")
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), answerParams(false),
		option.WithHeader(fakeprovider.HeaderScenario, fakeprovider.ScenarioChatAnswer))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()

	if body := h.srv.Requests()[0].Body; bytes.Contains(body, []byte("stream_options")) {
		t.Errorf("request body = %s, want no stream_options", body)
	}
	s := h.onlySpan(t)
	wantString(t, s, "gen_ai.response.id", "chatcmpl-test-0001")
	wantStrings(t, s, "gen_ai.response.finish_reasons", "stop")
	wantJSON(t, s, "gen_ai.output.messages", answerOutput)
	wantNoUsage(t, s)
	wantAbsent(t, s, "bijotel.response.incomplete", "error.type")
}
