package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Values of the Cohere fake's normal replies, for tests to compare against.
const (
	// CohereReplyText is the text of a reply without a tool call.
	CohereReplyText = "Hello from the fake Command model."
	// CohereToolPlan is the tool_plan of a reply that calls a tool.
	CohereToolPlan = "I will look up the weather in Paris."
	// CohereToolArguments is the argument text of the tool call in a reply
	// to a request that offers tools.
	CohereToolArguments = `{"location":"Paris","unit":"celsius"}`
	// CohereInputTokens is usage.tokens.input_tokens of a normal reply: every
	// token the model read, the prompt template included.
	CohereInputTokens = 13
	// CohereOutputTokens is usage.tokens.output_tokens of a normal reply.
	CohereOutputTokens = 8
	// CohereBilledInputTokens is usage.billed_units.input_tokens, which
	// leaves out the prompt template and so is lower than
	// CohereInputTokens.
	CohereBilledInputTokens = 6
	// CohereBilledOutputTokens is usage.billed_units.output_tokens.
	CohereBilledOutputTokens = 8
	// CohereRetryAfter is the Retry-After header of a rate-limited reply, in
	// seconds.
	CohereRetryAfter = "1"
)

// Recorded Cohere v2 chat streams, selected with HeaderScenario. Each
// replays its transcript byte for byte whatever the request's model. They
// are only streamed.
const (
	// ScenarioCohereNoUsage streams msg-test-0001, the text "Hello there."
	// in two deltas, and a message-end with finish_reason COMPLETE and no
	// usage object.
	ScenarioCohereNoUsage = "cohere-no-usage"
	// ScenarioCohereStreamError streams msg-test-0002, the text "Hello", and
	// a message-end with finish_reason ERROR, an error message and usage
	// input 10 and output 1 (tokens and billed units alike).
	ScenarioCohereStreamError = "cohere-stream-error"
)

var cohereScenarios = map[string]string{
	ScenarioCohereNoUsage: `
event: message-start
data: {"id":"msg-test-0001","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}

event: content-start
data: {"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}

event: content-delta
data: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hello"}}}}

event: content-delta
data: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":" there."}}}}

event: content-end
data: {"type":"content-end","index":0}

event: message-end
data: {"type":"message-end","delta":{"finish_reason":"COMPLETE"}}

data: [DONE]
`,
	ScenarioCohereStreamError: `
event: message-start
data: {"id":"msg-test-0002","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}

event: content-start
data: {"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}

event: content-delta
data: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hello"}}}}

event: message-end
data: {"type":"message-end","delta":{"error":"generation failed, please try again","finish_reason":"ERROR","usage":{"billed_units":{"input_tokens":10,"output_tokens":1},"tokens":{"input_tokens":10,"output_tokens":1}}}}

data: [DONE]
`,
}

// NewCohere starts a fake Cohere API on loopback. It serves POST /v2/chat
// under any prefix with a JSON reply, or with server-sent events when the
// request sets "stream": true. Each event has an event line and a data
// line, as Cohere streams message-start, content-*, tool-plan-delta,
// tool-call-* and message-end, and a data-only [DONE] event ends the
// stream. Every reply has usage with both billed_units and tokens.
// When the request offers tools, its last message is not a tool result and
// tool_choice is not NONE, the reply plans with CohereToolPlan and calls the
// first tool with CohereToolArguments, streamed in fragments that split
// names and values. ModelRateLimited gets HTTP 429 with Retry-After and
// ModelServerError HTTP 500, each with a Cohere error body. Streams honour
// HeaderHoldAfter, and HeaderScenario selects a ScenarioCohere* transcript.
func NewCohere() (*Server, error) {
	f := &cohereFake{}
	return start(http.HandlerFunc(f.serve))
}

type cohereFake struct {
	seq atomic.Int64
}

// cohereRequest is the part of a v2 chat request that steers the fake.
type cohereRequest struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role string `json:"role"`
	} `json:"messages"`
	Tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice string `json:"tool_choice"`
}

func cohereError(w http.ResponseWriter, status int, message string, n int64) {
	writeJSON(w, status, mustJSON(map[string]any{"id": fmt.Sprintf("fake-cohere-error-%04d", n), "message": message}))
}

func (f *cohereFake) serve(w http.ResponseWriter, r *http.Request) {
	n := f.seq.Add(1)
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/v2/chat") {
		cohereError(w, http.StatusNotFound, "no route for "+r.Method+" "+r.URL.Path, n)
		return
	}
	var req cohereRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		cohereError(w, http.StatusBadRequest, "invalid request: body is not valid JSON: "+err.Error(), n)
		return
	}

	switch req.Model {
	case ModelRateLimited:
		w.Header().Set("Retry-After", CohereRetryAfter)
		cohereError(w, http.StatusTooManyRequests, "You are past the rate limit for "+ModelRateLimited+". Please wait and try again.", n)
		return
	case ModelServerError:
		cohereError(w, http.StatusInternalServerError, "internal server error, this has been reported to our developers", n)
		return
	}

	if name := r.Header.Get(HeaderScenario); name != "" {
		transcript, ok := cohereScenarios[name]
		if !ok || !req.Stream {
			cohereError(w, http.StatusBadRequest, "unknown scenario "+strconv.Quote(name)+" or request without stream", n)
			return
		}
		s := newCohereStream(w, r)
		for _, block := range transcriptEvents(transcript) {
			if !s.sendRaw(block) {
				return
			}
		}
		s.end()
		return
	}

	tool := cohereOfferedTool(&req)
	if req.Stream {
		f.stream(w, r, n, tool)
		return
	}
	writeJSON(w, http.StatusOK, mustJSON(cohereReply(n, tool)))
}

// cohereOfferedTool returns the name of the tool the reply calls, or ""
// when the reply is text.
func cohereOfferedTool(req *cohereRequest) string {
	if len(req.Tools) == 0 || req.ToolChoice == "NONE" {
		return ""
	}
	if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == "tool" {
		return ""
	}
	return req.Tools[0].Function.Name
}

func cohereUsage() map[string]any {
	return map[string]any{
		"billed_units": map[string]any{"input_tokens": CohereBilledInputTokens, "output_tokens": CohereBilledOutputTokens},
		"tokens":       map[string]any{"input_tokens": CohereInputTokens, "output_tokens": CohereOutputTokens},
	}
}

func cohereToolCallID(n int64) string { return fmt.Sprintf("get_weather_fake%04d", n) }

func cohereReply(n int64, tool string) map[string]any {
	message := map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "text", "text": CohereReplyText}}}
	finish := "COMPLETE"
	if tool != "" {
		message = map[string]any{
			"role":      "assistant",
			"tool_plan": CohereToolPlan,
			"tool_calls": []any{map[string]any{
				"id": cohereToolCallID(n), "type": "function",
				"function": map[string]any{"name": tool, "arguments": CohereToolArguments},
			}},
		}
		finish = "TOOL_CALL"
	}
	return map[string]any{
		"id":            fmt.Sprintf("fake-cohere-%04d", n),
		"finish_reason": finish,
		"message":       message,
		"usage":         cohereUsage(),
	}
}

func (f *cohereFake) stream(w http.ResponseWriter, r *http.Request, n int64, tool string) {
	s := newCohereStream(w, r)
	defer s.end()
	send := func(typ string, fields map[string]any) bool {
		fields["type"] = typ
		return s.sendRaw("event: " + typ + "\ndata: " + mustJSON(fields))
	}

	if !send("message-start", map[string]any{
		"id": fmt.Sprintf("fake-cohere-%04d", n),
		"delta": map[string]any{"message": map[string]any{
			"role": "assistant", "content": []any{}, "tool_plan": "", "tool_calls": []any{}, "citations": []any{},
		}},
	}) {
		return
	}
	finish := "COMPLETE"
	if tool == "" {
		if !send("content-start", map[string]any{"index": 0, "delta": map[string]any{"message": map[string]any{"content": map[string]any{"type": "text", "text": ""}}}}) {
			return
		}
		for _, piece := range splitWords(CohereReplyText) {
			if !send("content-delta", map[string]any{"index": 0, "delta": map[string]any{"message": map[string]any{"content": map[string]any{"text": piece}}}}) {
				return
			}
		}
		if !send("content-end", map[string]any{"index": 0}) {
			return
		}
	} else {
		finish = "TOOL_CALL"
		for _, piece := range splitWords(CohereToolPlan) {
			if !send("tool-plan-delta", map[string]any{"delta": map[string]any{"message": map[string]any{"tool_plan": piece}}}) {
				return
			}
		}
		call := map[string]any{"id": cohereToolCallID(n), "type": "function", "function": map[string]any{"name": tool, "arguments": ""}}
		if !send("tool-call-start", map[string]any{"index": 0, "delta": map[string]any{"message": map[string]any{"tool_calls": call}}}) {
			return
		}
		for _, piece := range splitMidToken(CohereToolArguments, 3) {
			fragment := map[string]any{"function": map[string]any{"arguments": piece}}
			if !send("tool-call-delta", map[string]any{"index": 0, "delta": map[string]any{"message": map[string]any{"tool_calls": fragment}}}) {
				return
			}
		}
		if !send("tool-call-end", map[string]any{"index": 0}) {
			return
		}
	}
	if !send("message-end", map[string]any{"delta": map[string]any{"finish_reason": finish, "usage": cohereUsage()}}) {
		return
	}
	s.sendRaw("data: [DONE]")
}

// cohereStream writes the events of one streamed Cohere reply, honouring
// HeaderHoldAfter. The bytes are those of a server that ends every event
// with a blank line, but each flush ends after an event's last data line
// and the blank line goes out in front of the next event. The Go SDK's
// reader (cohere-go v2.15.3) needs that: when a read ends after the blank
// line, it returns the lone "\n" as an event and Recv fails to decode it.
type cohereStream struct {
	*eventStream
	started bool
}

func newCohereStream(w http.ResponseWriter, r *http.Request) *cohereStream {
	return &cohereStream{eventStream: newEventStream(w, r)}
}

// sendRaw writes one event given as its wire text without the blank line
// that ends it, and reports whether it was written. Before it holds the
// stream, it sends the blank line that ends the last event, so that the
// client has every event sent so far whole.
func (s *cohereStream) sendRaw(block string) bool {
	if s.hold >= 0 && !s.done && s.started && s.eventStream.sent == s.hold {
		s.sse.w.Write([]byte("\n"))
	}
	if !s.ready() {
		return false
	}
	if s.started {
		block = "\n" + block
	}
	s.sse.w.Write([]byte(block + "\n"))
	if s.sse.f != nil {
		s.sse.f.Flush()
	}
	s.eventStream.sent++
	s.started = true
	return true
}

// end writes the blank line that ends the last event.
func (s *cohereStream) end() {
	if s.started && !s.done {
		s.sse.w.Write([]byte("\n"))
	}
}
