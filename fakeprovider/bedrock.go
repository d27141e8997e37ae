package fakeprovider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Values of the Bedrock fake's normal replies, for tests to compare against.
const (
	// BedrockReplyText is the text of a reply without a tool call.
	BedrockReplyText = "Hello from the fake Bedrock model."
	// BedrockToolText is the text block before the toolUse block of a reply
	// that calls a tool.
	BedrockToolText = "Let me check the weather."
	// BedrockToolInput is the input of that toolUse block, as JSON text.
	BedrockToolInput = `{"location":"Paris","unit":"celsius"}`
	// BedrockInputTokens is usage.inputTokens of a normal reply. As in
	// Bedrock, it leaves out the cache read and cache write tokens.
	BedrockInputTokens = 15
	// BedrockOutputTokens is usage.outputTokens of a normal reply.
	BedrockOutputTokens = 9
	// BedrockCacheReadInputTokens is usage.cacheReadInputTokens of a reply
	// to a request with a cachePoint block.
	BedrockCacheReadInputTokens = 6
	// BedrockCacheWriteInputTokens is usage.cacheWriteInputTokens of a reply
	// to a request with a cachePoint block.
	BedrockCacheWriteInputTokens = 2
	// BedrockRetryAfter is the Retry-After header of a throttled reply, in
	// seconds.
	BedrockRetryAfter = "1"
)

// Recorded ConverseStream replies, selected with HeaderScenario. Each
// replays its events whatever the request's model. They are only streamed.
const (
	// ScenarioBedrockNoUsage streams the text "Hello there." in two deltas
	// and messageStop with stopReason end_turn, and ends without the
	// metadata event that carries usage.
	ScenarioBedrockNoUsage = "bedrock-no-usage"
	// ScenarioBedrockStreamException streams the text "Hello", then a
	// throttlingException exception message, and ends the body.
	ScenarioBedrockStreamException = "bedrock-stream-exception"
)

// bedrockEvent is one message of an event stream: an event, or an
// exception when exception is set.
type bedrockEvent struct {
	typ       string
	payload   string
	exception bool
}

var bedrockScenarios = map[string][]bedrockEvent{
	ScenarioBedrockNoUsage: {
		{typ: "messageStart", payload: `{"role":"assistant"}`},
		{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":"Hello"}}`},
		{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":" there."}}`},
		{typ: "contentBlockStop", payload: `{"contentBlockIndex":0}`},
		{typ: "messageStop", payload: `{"stopReason":"end_turn"}`},
	},
	ScenarioBedrockStreamException: {
		{typ: "messageStart", payload: `{"role":"assistant"}`},
		{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":"Hello"}}`},
		{typ: "throttlingException", payload: `{"message":"Too many tokens, please wait before trying again."}`, exception: true},
	},
}

// NewBedrock starts a fake Amazon Bedrock Runtime API on loopback. It
// serves POST /model/{modelId}/converse with a JSON reply and POST
// /model/{modelId}/converse-stream with an application/vnd.amazon.eventstream
// body in the AWS event stream binary framing: messageStart,
// contentBlockStart, contentBlockDelta, contentBlockStop, messageStop and
// metadata events, each flushed on its own. Use URL as the client's
// BaseEndpoint; the fake does not check request signatures.
//
// When the request offers a toolSpec and its last message has no toolResult
// block, the reply has the text BedrockToolText and calls the first tool with
// BedrockToolInput, streamed in fragments that split names and values. A
// request with a cachePoint block gets cache read and write counts.
// ModelRateLimited gets HTTP 429 ThrottlingException with Retry-After and
// ModelServerError HTTP 500 InternalServerException, as an
// X-Amzn-ErrorType header and a JSON message body. Streams honour
// HeaderHoldAfter, and HeaderScenario selects a ScenarioBedrock* reply.
func NewBedrock() (*Server, error) {
	f := &bedrockFake{}
	return start(http.HandlerFunc(f.serve))
}

type bedrockFake struct {
	seq atomic.Int64
}

// bedrockRequest is the part of a Converse request that steers the fake.
type bedrockRequest struct {
	Messages []struct {
		Role    string                       `json:"role"`
		Content []map[string]json.RawMessage `json:"content"`
	} `json:"messages"`
	System     []map[string]json.RawMessage `json:"system"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec *struct {
				Name string `json:"name"`
			} `json:"toolSpec"`
		} `json:"tools"`
	} `json:"toolConfig"`
}

// bedrockError writes a restJson1 error: the code in X-Amzn-ErrorType and a
// body with the message.
func bedrockError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("X-Amzn-ErrorType", code+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	writeJSON(w, status, mustJSON(map[string]any{"message": message}))
}

func (f *bedrockFake) serve(w http.ResponseWriter, r *http.Request) {
	n := f.seq.Add(1)
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("00000000-0000-4000-8000-%012d", n))

	// A model ID may contain "/" and ":", escaped in the path.
	segments := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if r.Method != http.MethodPost || len(segments) != 3 || segments[0] != "model" ||
		segments[2] != "converse" && segments[2] != "converse-stream" {
		bedrockError(w, http.StatusNotFound, "UnknownOperationException", "no operation for "+r.Method+" "+r.URL.Path)
		return
	}
	model, err := url.PathUnescape(segments[1])
	if err != nil {
		bedrockError(w, http.StatusBadRequest, "ValidationException", "invalid model identifier: "+err.Error())
		return
	}
	stream := segments[2] == "converse-stream"
	var req bedrockRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		bedrockError(w, http.StatusBadRequest, "ValidationException", "request body is not valid JSON: "+err.Error())
		return
	}

	switch model {
	case ModelRateLimited:
		w.Header().Set("Retry-After", BedrockRetryAfter)
		bedrockError(w, http.StatusTooManyRequests, "ThrottlingException", "Too many requests, please wait before trying again.")
		return
	case ModelServerError:
		bedrockError(w, http.StatusInternalServerError, "InternalServerException", "The server encountered an internal error while processing the request.")
		return
	}

	if name := r.Header.Get(HeaderScenario); name != "" {
		events, ok := bedrockScenarios[name]
		if !ok || !stream {
			bedrockError(w, http.StatusBadRequest, "ValidationException", "unknown scenario "+strconv.Quote(name)+" or request to converse")
			return
		}
		s := newBedrockStream(w, r)
		for _, e := range events {
			if !s.send(e) {
				return
			}
		}
		return
	}

	reply := bedrockReply{tool: bedrockOfferedTool(&req), cached: bedrockHasCachePoint(&req)}
	if stream {
		s := newBedrockStream(w, r)
		for _, e := range reply.events() {
			if !s.send(e) {
				return
			}
		}
		return
	}
	writeJSON(w, http.StatusOK, mustJSON(reply.whole()))
}

// bedrockOfferedTool returns the name of the tool the reply calls, or ""
// when the reply is text.
func bedrockOfferedTool(req *bedrockRequest) string {
	if req.ToolConfig == nil {
		return ""
	}
	if n := len(req.Messages); n > 0 {
		for _, block := range req.Messages[n-1].Content {
			if _, ok := block["toolResult"]; ok {
				return ""
			}
		}
	}
	for _, t := range req.ToolConfig.Tools {
		if t.ToolSpec != nil {
			return t.ToolSpec.Name
		}
	}
	return ""
}

func bedrockHasCachePoint(req *bedrockRequest) bool {
	for _, block := range req.System {
		if _, ok := block["cachePoint"]; ok {
			return true
		}
	}
	for _, m := range req.Messages {
		for _, block := range m.Content {
			if _, ok := block["cachePoint"]; ok {
				return true
			}
		}
	}
	return false
}

// bedrockReply builds a normal reply of the Bedrock fake.
type bedrockReply struct {
	tool   string
	cached bool
}

func (b bedrockReply) usage() map[string]any {
	u := map[string]any{
		"inputTokens":  BedrockInputTokens,
		"outputTokens": BedrockOutputTokens,
		"totalTokens":  BedrockInputTokens + BedrockOutputTokens,
	}
	if b.cached {
		u["cacheReadInputTokens"] = BedrockCacheReadInputTokens
		u["cacheWriteInputTokens"] = BedrockCacheWriteInputTokens
		u["totalTokens"] = BedrockInputTokens + BedrockOutputTokens + BedrockCacheReadInputTokens + BedrockCacheWriteInputTokens
	}
	return u
}

const bedrockToolUseID = "tooluse_fake_0001"

func (b bedrockReply) whole() map[string]any {
	content := []any{map[string]any{"text": BedrockReplyText}}
	stop := "end_turn"
	if b.tool != "" {
		var input any
		json.Unmarshal([]byte(BedrockToolInput), &input)
		content = []any{
			map[string]any{"text": BedrockToolText},
			map[string]any{"toolUse": map[string]any{"toolUseId": bedrockToolUseID, "name": b.tool, "input": input}},
		}
		stop = "tool_use"
	}
	return map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
		"stopReason": stop,
		"usage":      b.usage(),
		"metrics":    map[string]any{"latencyMs": 120},
	}
}

func (b bedrockReply) events() []bedrockEvent {
	event := func(typ string, fields map[string]any) bedrockEvent {
		return bedrockEvent{typ: typ, payload: mustJSON(fields)}
	}
	text := BedrockReplyText
	if b.tool != "" {
		text = BedrockToolText
	}
	events := []bedrockEvent{event("messageStart", map[string]any{"role": "assistant"})}
	for _, piece := range splitWords(text) {
		events = append(events, event("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"text": piece}}))
	}
	events = append(events, event("contentBlockStop", map[string]any{"contentBlockIndex": 0}))
	stop := "end_turn"
	if b.tool != "" {
		stop = "tool_use"
		events = append(events, event("contentBlockStart", map[string]any{
			"contentBlockIndex": 1,
			"start":             map[string]any{"toolUse": map[string]any{"toolUseId": bedrockToolUseID, "name": b.tool}},
		}))
		for _, piece := range splitMidToken(BedrockToolInput, 3) {
			events = append(events, event("contentBlockDelta", map[string]any{"contentBlockIndex": 1, "delta": map[string]any{"toolUse": map[string]any{"input": piece}}}))
		}
		events = append(events, event("contentBlockStop", map[string]any{"contentBlockIndex": 1}))
	}
	events = append(events,
		event("messageStop", map[string]any{"stopReason": stop}),
		event("metadata", map[string]any{"usage": b.usage(), "metrics": map[string]any{"latencyMs": 120}}),
	)
	return events
}

// bedrockStream writes the messages of one ConverseStream reply, honouring
// HeaderHoldAfter.
type bedrockStream struct {
	w       http.ResponseWriter
	flusher http.Flusher
	enc     *eventstream.Encoder
	streamHold
}

func newBedrockStream(w http.ResponseWriter, r *http.Request) *bedrockStream {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	return &bedrockStream{w: w, flusher: flusher, enc: eventstream.NewEncoder(), streamHold: newStreamHold(r)}
}

// send writes one message and reports whether it was written. At the hold
// count it flushes what was written, then blocks until the client goes
// away.
func (s *bedrockStream) send(e bedrockEvent) bool {
	if !s.proceed(s.flush) {
		return false
	}

	msg := eventstream.Message{Payload: []byte(e.payload)}
	if e.exception {
		msg.Headers.Set(":message-type", eventstream.StringValue("exception"))
		msg.Headers.Set(":exception-type", eventstream.StringValue(e.typ))
	} else {
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		msg.Headers.Set(":event-type", eventstream.StringValue(e.typ))
	}
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	var buf bytes.Buffer
	if err := s.enc.Encode(&buf, msg); err != nil {
		s.done = true
		return false
	}
	s.w.Write(buf.Bytes())
	s.flush()
	s.sent++
	return true
}

func (s *bedrockStream) flush() {
	if s.flusher != nil {
		s.flusher.Flush()
	}
}
