package otelopenai

import (
	"testing"

	"github.com/bijotel/bijotel-go/genai"
)

// Each usage object in a stream is the whole count so far: a later one
// replaces an earlier one and the two are never added up.
func TestChatStreamUsageIsSnapshot(t *testing.T) {
	var s chatStream
	s.event("", []byte(`{"id":"c1","choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":9,"completion_tokens":1}}`))
	s.event("", []byte(`{"id":"c1","choices":[],"usage":null}`))
	s.event("", []byte(`{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2}}`))
	resp, ok := s.response()
	if !ok || resp.Usage == nil {
		t.Fatal("no usage recorded")
	}
	if resp.Usage.InputTokens != 9 || resp.Usage.OutputTokens != 2 {
		t.Errorf("usage = %d in, %d out, want 9 in, 2 out", resp.Usage.InputTokens, resp.Usage.OutputTokens)
	}
}

// Groq reports stream usage under x_groq.usage.
func TestChatStreamGroqUsage(t *testing.T) {
	var s chatStream
	s.event("", []byte(`{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"usage":{"prompt_tokens":4,"completion_tokens":3}}}`))
	resp, _ := s.response()
	if resp.Usage == nil || resp.Usage.InputTokens != 4 || resp.Usage.OutputTokens != 3 {
		t.Errorf("usage = %+v, want 4 in, 3 out", resp.Usage)
	}
}

// Tool calls sent one by one at index 0 with different ids stay separate.
func TestChatStreamToolCallsAtOneIndex(t *testing.T) {
	var s chatStream
	s.event("", []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{\"x\""}}]}}]}`))
	s.event("", []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}`))
	s.event("", []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":""}}]},"finish_reason":"tool_calls"}]}`))
	resp, _ := s.response()
	parts := resp.Messages[0].Parts
	if len(parts) != 2 {
		t.Fatalf("parts = %d, want 2: %v", len(parts), parts)
	}
	if args, _ := parts[0]["arguments"].(map[string]any); args["x"] != int64(1) {
		t.Errorf("first call arguments = %v, want {x: 1}", parts[0]["arguments"])
	}
	if args, ok := parts[1]["arguments"].(map[string]any); !ok || len(args) != 0 {
		t.Errorf("second call arguments = %#v, want {}", parts[1]["arguments"])
	}
}

func TestResponsesInputItems(t *testing.T) {
	var req genai.Request
	parseResponsesRequest([]byte(`{"model":"m","input":[`+
		`{"role":"user","content":[{"type":"input_text","text":"Weather?"}]},`+
		`{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"location\":\"Paris\"}"},`+
		`{"type":"function_call_output","call_id":"call_1","output":"18 degrees"}],`+
		`"tools":[{"type":"web_search"}]}`), &req)
	if len(req.Messages) != 3 {
		t.Fatalf("messages = %d, want 3: %v", len(req.Messages), req.Messages)
	}
	if got := req.Messages[0].Parts[0]["content"]; got != "Weather?" {
		t.Errorf("user text = %v, want Weather?", got)
	}
	call := req.Messages[1].Parts[0]
	if call["type"] != "tool_call" || call["id"] != "call_1" || call["arguments"].(map[string]any)["location"] != "Paris" {
		t.Errorf("tool call part = %v", call)
	}
	if res := req.Messages[2]; res.Role != "tool" || res.Parts[0]["response"] != "18 degrees" {
		t.Errorf("tool result = %v", res)
	}
	defs, _ := req.ToolDefinitions.([]any)
	if len(defs) != 1 || defs[0].(map[string]any)["type"] != "web_search" {
		t.Errorf("tool definitions = %v, want the web_search tool", req.ToolDefinitions)
	}
}
