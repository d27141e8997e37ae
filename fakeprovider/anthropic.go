package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
)

// ModelOverloaded gets HTTP 529 with an overloaded_error body from the
// Anthropic fake.
const ModelOverloaded = "fake-overloaded"

// Values of the Anthropic fake's normal replies, for tests to compare
// against.
const (
	// AnthropicReplyText is the text of a reply without a tool call.
	AnthropicReplyText = "Hello from the fake Claude."
	// AnthropicToolText is the text block before the tool_use block of a
	// reply that calls a tool.
	AnthropicToolText = "I'll look that up."
	// AnthropicToolInput is the input of that tool_use block, as JSON text.
	AnthropicToolInput = `{"location":"Paris","unit":"celsius"}`
	// AnthropicInputTokens is usage.input_tokens of a normal reply. As in the
	// Anthropic API, it excludes the cache read and cache creation tokens.
	AnthropicInputTokens = 14
	// AnthropicCacheReadInputTokens is usage.cache_read_input_tokens.
	AnthropicCacheReadInputTokens = 6
	// AnthropicCacheCreationInputTokens is usage.cache_creation_input_tokens.
	AnthropicCacheCreationInputTokens = 2
	// AnthropicOutputTokens is usage.output_tokens of a normal reply.
	AnthropicOutputTokens = 9
	// AnthropicRetryAfter is the retry-after header of a rate-limited reply,
	// in seconds.
	AnthropicRetryAfter = "1"
)

// Recorded Messages API streams, selected with HeaderScenario. Each replays
// its transcript byte for byte whatever the request's model. A request
// without "stream": true gets the equivalent JSON message where one is
// defined.
const (
	// ScenarioAnthropicCacheUsage streams message msg_test_0001 ("Hello!",
	// stop reason end_turn). message_start carries input 12, cache read 5,
	// cache creation 0 and output 1; message_delta carries only output 15,
	// the final count. Its JSON form has usage input 12, cache read 5, cache
	// creation 0 and output 15.
	ScenarioAnthropicCacheUsage = "anthropic-cache-usage"
	// ScenarioAnthropicGatewayUsage is ScenarioAnthropicCacheUsage as some
	// gateways send it: message_start carries an estimate (input 14, output
	// 0, no cache fields), and message_delta the final input 12, cache read
	// 5, cache creation 0 and output 15.
	ScenarioAnthropicGatewayUsage = "anthropic-gateway-usage"
	// ScenarioAnthropicToolFragments streams msg_test_0003 with the text
	// "Checking." and two tool_use blocks. The input of get_weather arrives
	// as an empty fragment and three fragments split inside names and
	// values. get_time has no input deltas at all. The stop reason is
	// tool_use, with usage input 40 and output 38.
	ScenarioAnthropicToolFragments = "anthropic-tool-fragments"
	// ScenarioAnthropicOrphanDelta streams the text block "Checking.", then
	// an input_json_delta and a content_block_stop for index 1, which no
	// content_block_start opened. The stop reason is end_turn, with output
	// 20.
	ScenarioAnthropicOrphanDelta = "anthropic-orphan-delta"
	// ScenarioAnthropicCutToolInput is ScenarioAnthropicToolFragments cut
	// after the input fragment {"locat: the tool_use block stops there and
	// the stop reason is max_tokens, with output 24.
	ScenarioAnthropicCutToolInput = "anthropic-cut-tool-input"
)

type anthropicScenario struct {
	transcript string
	// message is the equivalent JSON reply, or "" when the scenario has no
	// unstreamed form.
	message string
}

const (
	anthropicTextStart = `event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`
	anthropicCheckingText = `event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}`
	anthropicToolStart = `event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_test_0001","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"locat"}}`
	anthropicMessageStop = `event: message_stop
data: {"type":"message_stop"}`
)

func anthropicHelloTranscript(startUsage, deltaUsage string) string {
	return `event: message_start
data: {"type":"message_start","message":{"id":"msg_test_0001","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":` + startUsage + `}}

` + anthropicTextStart + `

event: ping
data: {"type":"ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":` + deltaUsage + `}

` + anthropicMessageStop
}

const anthropicHelloMessage = `{"id":"msg_test_0001","type":"message","role":"assistant","content":[{"type":"text","text":"Hello!"}],"model":"claude-sonnet-4-5","stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":15}}`

const anthropicToolMessageStart = `event: message_start
data: {"type":"message_start","message":{"id":"msg_test_0003","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":40,"output_tokens":1}}}`

var anthropicScenarios = map[string]anthropicScenario{
	ScenarioAnthropicCacheUsage: {
		transcript: anthropicHelloTranscript(
			`{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":1}`,
			`{"output_tokens":15}`),
		message: anthropicHelloMessage,
	},
	ScenarioAnthropicGatewayUsage: {
		transcript: anthropicHelloTranscript(
			`{"input_tokens":14,"output_tokens":0}`,
			`{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":15}`),
		message: anthropicHelloMessage,
	},
	ScenarioAnthropicToolFragments: {transcript: anthropicToolMessageStart + "\n\n" + anthropicCheckingText + "\n\n" + anthropicToolStart + `

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ion\": \"Par"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\", \"unit\": \"celsius\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_test_0002","name":"get_time","input":{}}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":38}}

` + anthropicMessageStop},
	ScenarioAnthropicOrphanDelta: {transcript: anthropicToolMessageStart + "\n\n" + anthropicCheckingText + `

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"pattern\": \"weather\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":20}}

` + anthropicMessageStop},
	ScenarioAnthropicCutToolInput: {transcript: anthropicToolMessageStart + "\n\n" + anthropicCheckingText + "\n\n" + anthropicToolStart + `

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":24}}

` + anthropicMessageStop},
}

// NewAnthropic starts a fake Anthropic Messages API on loopback: POST
// /v1/messages.
//
// A normal reply is a JSON message or, when the request sets "stream": true,
// the event stream message_start, content_block_start, ping,
// content_block_delta..., content_block_stop, message_delta, message_stop.
// When the request offers tools and its last message contains no
// tool_result, the reply has the text AnthropicToolText and a tool_use block
// calling the first tool with AnthropicToolInput. Streamed, that input
// arrives as input_json_delta fragments split inside names and values. ModelRateLimited
// gets HTTP 429 rate_limit_error with retry-after, ModelOverloaded HTTP 529
// overloaded_error and ModelServerError HTTP 500 api_error. HeaderScenario
// selects a recorded stream (the Scenario* constants).
func NewAnthropic() (*Server, error) {
	f := &anthropicFake{}
	return start(http.HandlerFunc(f.serve))
}

type anthropicFake struct {
	seq atomic.Int64
}

type anthropicRequest struct {
	Model      string            `json:"model"`
	Stream     bool              `json:"stream"`
	Tools      []json.RawMessage `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
	} `json:"tool_choice"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

func anthropicError(w http.ResponseWriter, status int, typ, message string, n int64) {
	writeJSON(w, status, mustJSON(map[string]any{
		"type":       "error",
		"error":      map[string]any{"type": typ, "message": message},
		"request_id": fmt.Sprintf("req_fake_%04d", n),
	}))
}

func (f *anthropicFake) serve(w http.ResponseWriter, r *http.Request) {
	n := f.seq.Add(1)
	w.Header().Set("Request-Id", fmt.Sprintf("req_fake_%04d", n))
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		anthropicError(w, http.StatusNotFound, "not_found_error", "Not found: "+r.Method+" "+r.URL.Path, n)
		return
	}
	var req anthropicRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "invalid JSON body: "+err.Error(), n)
		return
	}

	switch req.Model {
	case ModelRateLimited:
		w.Header().Set("Retry-After", AnthropicRetryAfter)
		w.Header().Set("Anthropic-Ratelimit-Requests-Remaining", "0")
		anthropicError(w, http.StatusTooManyRequests, "rate_limit_error", "Number of requests has exceeded your rate limit. Please try again later.", n)
		return
	case ModelOverloaded:
		anthropicError(w, 529, "overloaded_error", "Overloaded", n)
		return
	case ModelServerError:
		anthropicError(w, http.StatusInternalServerError, "api_error", "Internal server error", n)
		return
	}

	if name := r.Header.Get(HeaderScenario); name != "" {
		sc, ok := anthropicScenarios[name]
		switch {
		case !ok:
			anthropicError(w, http.StatusBadRequest, "invalid_request_error", "unknown scenario "+strconv.Quote(name), n)
		case req.Stream:
			s := newEventStream(w, r)
			for _, block := range transcriptEvents(sc.transcript) {
				if !s.sendRaw(block) {
					return
				}
			}
		case sc.message != "":
			writeJSON(w, http.StatusOK, sc.message)
		default:
			anthropicError(w, http.StatusBadRequest, "invalid_request_error", "scenario "+strconv.Quote(name)+" is only streamed", n)
		}
		return
	}

	tool := anthropicOfferedTool(&req)
	if req.Stream {
		f.stream(w, r, &req, n, tool)
		return
	}
	writeJSON(w, http.StatusOK, mustJSON(anthropicMessage(&req, n, tool)))
}

// anthropicOfferedTool returns the name of the tool the reply calls, or ""
// when the reply is text.
func anthropicOfferedTool(req *anthropicRequest) string {
	if len(req.Tools) == 0 || req.ToolChoice != nil && req.ToolChoice.Type == "none" {
		return ""
	}
	if n := len(req.Messages); n > 0 {
		var blocks []struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(req.Messages[n-1].Content, &blocks) == nil {
			for _, b := range blocks {
				if b.Type == "tool_result" {
					return ""
				}
			}
		}
	}
	var tool struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(req.Tools[0], &tool) != nil {
		return ""
	}
	return tool.Name
}

func anthropicUsage(outputTokens int) map[string]any {
	return map[string]any{
		"input_tokens":                AnthropicInputTokens,
		"cache_creation_input_tokens": AnthropicCacheCreationInputTokens,
		"cache_read_input_tokens":     AnthropicCacheReadInputTokens,
		"output_tokens":               outputTokens,
		"service_tier":                "standard",
	}
}

func anthropicMessage(req *anthropicRequest, n int64, tool string) map[string]any {
	content := []any{map[string]any{"type": "text", "text": AnthropicReplyText}}
	stop := "end_turn"
	if tool != "" {
		var input any
		json.Unmarshal([]byte(AnthropicToolInput), &input)
		content = []any{
			map[string]any{"type": "text", "text": AnthropicToolText},
			map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_fake_%04d", n), "name": tool, "input": input},
		}
		stop = "tool_use"
	}
	return map[string]any{
		"id":            fmt.Sprintf("msg_fake_%04d", n),
		"type":          "message",
		"role":          "assistant",
		"model":         req.Model,
		"content":       content,
		"stop_reason":   stop,
		"stop_sequence": nil,
		"usage":         anthropicUsage(AnthropicOutputTokens),
	}
}

func (f *anthropicFake) stream(w http.ResponseWriter, r *http.Request, req *anthropicRequest, n int64, tool string) {
	s := newEventStream(w, r)
	send := func(typ string, fields map[string]any) bool {
		fields["type"] = typ
		return s.send(typ, mustJSON(fields))
	}

	start := anthropicMessage(req, n, "")
	start["content"] = []any{}
	start["stop_reason"] = nil
	start["usage"] = anthropicUsage(1)
	if !send("message_start", map[string]any{"message": start}) {
		return
	}
	text := AnthropicReplyText
	if tool != "" {
		text = AnthropicToolText
	}
	if !send("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}}) ||
		!send("ping", map[string]any{}) {
		return
	}
	for _, piece := range splitWords(text) {
		if !send("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": piece}}) {
			return
		}
	}
	if !send("content_block_stop", map[string]any{"index": 0}) {
		return
	}
	stop := "end_turn"
	if tool != "" {
		stop = "tool_use"
		block := map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_fake_%04d", n), "name": tool, "input": map[string]any{}}
		if !send("content_block_start", map[string]any{"index": 1, "content_block": block}) {
			return
		}
		for _, piece := range append([]string{""}, splitMidToken(AnthropicToolInput, 3)...) {
			if !send("content_block_delta", map[string]any{"index": 1, "delta": map[string]any{"type": "input_json_delta", "partial_json": piece}}) {
				return
			}
		}
		if !send("content_block_stop", map[string]any{"index": 1}) {
			return
		}
	}
	if !send("message_delta", map[string]any{
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": AnthropicOutputTokens},
	}) {
		return
	}
	send("message_stop", map[string]any{})
}
