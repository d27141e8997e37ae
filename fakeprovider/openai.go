package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Values of the OpenAI fake's normal replies, for tests to compare against.
const (
	// OpenAIReplyText is the assistant text of a reply without a tool call.
	OpenAIReplyText = "The fake model says hello."
	// OpenAIToolArguments is the argument text of the tool call in a reply
	// to a request that offers tools.
	OpenAIToolArguments = `{"location":"Paris","unit":"celsius"}`
	// OpenAIInputTokens is the input token count of a normal reply. It
	// includes OpenAICachedInputTokens, as OpenAI counts them.
	OpenAIInputTokens = 21
	// OpenAICachedInputTokens is the cached part of OpenAIInputTokens.
	OpenAICachedInputTokens = 5
	// OpenAIOutputTokens is the output token count of a normal reply.
	OpenAIOutputTokens = 7
	// OpenAIRetryAfter is the Retry-After header of a rate-limited reply, in
	// seconds.
	OpenAIRetryAfter = "1"
	// openAICreated is the fixed creation time of every reply, in Unix
	// seconds, so that replies are reproducible.
	openAICreated = 1700000000
)

// ScenarioChatAnswer replays a Chat Completions stream for the request
// {"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 6
// times 7?"}],"stream":true,...}: chunks with the text "The" and " answer",
// finish reason "stop", then a usage chunk with 9 input and 2 output tokens
// and an empty choices array, then [DONE]. The usage chunk is sent only when
// the request sets stream_options.include_usage, as OpenAI does. Earlier
// chunks carry "usage":null.
const ScenarioChatAnswer = "openai-chat-answer"

const chatAnswerTranscript = `
data: {"id":"chatcmpl-test-0001","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-test-0001","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"The"},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-test-0001","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":" answer"},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-test-0001","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-test-0001","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}

data: [DONE]
`

// chatAnswerUsageEvent is the index of the usage chunk in
// chatAnswerTranscript.
const chatAnswerUsageEvent = 4

// NewOpenAI starts a fake OpenAI API on loopback. It serves POST
// .../chat/completions and POST .../responses under any path prefix, so a
// client may use URL+"/v1" as its base URL, or URL+"/openai/v1" to look like
// an OpenAI-compatible provider.
//
// A normal reply is plain JSON or, when the request sets "stream": true, a
// stream of server-sent events. A Chat Completions stream ends with a usage
// chunk only when the request sets stream_options.include_usage; a Responses
// stream always ends with response.completed, which carries usage. When the
// request offers tools and its last message is not a tool result, the reply
// calls the first tool with OpenAIToolArguments, streamed in fragments that
// split names and values. ModelRateLimited gets HTTP 429 with Retry-After
// and ModelServerError HTTP 500, each with an OpenAI error body.
func NewOpenAI() (*Server, error) {
	f := &openAIFake{}
	return start(http.HandlerFunc(f.serve))
}

type openAIFake struct {
	seq atomic.Int64
}

// openAIRequest is the part of a Chat Completions or Responses request that
// steers the fake.
type openAIRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools      []json.RawMessage `json:"tools"`
	ToolChoice json.RawMessage   `json:"tool_choice"`
	Messages   []struct {
		Role string `json:"role"`
	} `json:"messages"`
	Input json.RawMessage `json:"input"`
}

func (f *openAIFake) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	isChat := strings.HasSuffix(path, "/chat/completions")
	isResponses := strings.HasSuffix(path, "/responses")
	if r.Method != http.MethodPost || !isChat && !isResponses {
		writeJSON(w, http.StatusNotFound, openAIErrorBody("Unknown request URL: "+r.Method+" "+path, "invalid_request_error", "unknown_url"))
		return
	}
	var req openAIRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, openAIErrorBody("We could not parse the JSON body of your request: "+err.Error(), "invalid_request_error", ""))
		return
	}

	switch req.Model {
	case ModelRateLimited:
		w.Header().Set("Retry-After", OpenAIRetryAfter)
		w.Header().Set("X-Ratelimit-Limit-Requests", "3")
		w.Header().Set("X-Ratelimit-Remaining-Requests", "0")
		writeJSON(w, http.StatusTooManyRequests, openAIErrorBody("Rate limit reached for "+ModelRateLimited+" on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.", "requests", "rate_limit_exceeded"))
		return
	case ModelServerError:
		writeJSON(w, http.StatusInternalServerError, openAIErrorBody("The server had an error while processing your request. Sorry about that!", "server_error", ""))
		return
	}

	if name := r.Header.Get(HeaderScenario); name != "" {
		if name != ScenarioChatAnswer || !isChat {
			writeJSON(w, http.StatusBadRequest, openAIErrorBody("unknown scenario "+strconv.Quote(name)+" for "+path, "invalid_request_error", ""))
			return
		}
		f.replayChatAnswer(w, r, &req)
		return
	}

	n := f.seq.Add(1)
	tool := offeredTool(&req)
	switch {
	case isChat && req.Stream:
		f.streamChat(w, r, &req, n, tool)
	case isChat:
		writeJSON(w, http.StatusOK, mustJSON(chatCompletion(&req, n, tool)))
	case req.Stream:
		f.streamResponse(w, r, &req, n, tool)
	default:
		writeJSON(w, http.StatusOK, mustJSON(responseObject(&req, n, tool, "completed")))
	}
}

func openAIErrorBody(message, typ, code string) string {
	e := map[string]any{"message": message, "type": typ, "param": nil, "code": nil}
	if code != "" {
		e["code"] = code
	}
	return mustJSON(map[string]any{"error": e})
}

// offeredTool returns the name of the tool the reply calls, or "" when the
// reply is text: no tools, tool_choice "none", or a last message that is
// already a tool result.
func offeredTool(req *openAIRequest) string {
	if len(req.Tools) == 0 || string(req.ToolChoice) == `"none"` {
		return ""
	}
	if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == "tool" {
		return ""
	}
	if input := strings.TrimSpace(string(req.Input)); strings.HasPrefix(input, "[") {
		var items []struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(req.Input, &items) == nil && len(items) > 0 && items[len(items)-1].Type == "function_call_output" {
			return ""
		}
	}
	var tool struct {
		Name     string `json:"name"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(req.Tools[0], &tool) != nil {
		return ""
	}
	if tool.Function.Name != "" {
		return tool.Function.Name
	}
	return tool.Name
}

func (f *openAIFake) replayChatAnswer(w http.ResponseWriter, r *http.Request, req *openAIRequest) {
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	s := newEventStream(w, r)
	for i, block := range transcriptEvents(chatAnswerTranscript) {
		if i == chatAnswerUsageEvent && !includeUsage {
			continue
		}
		if !s.sendRaw(block) {
			return
		}
	}
}

func openAIUsageChat() map[string]any {
	return map[string]any{
		"prompt_tokens":     OpenAIInputTokens,
		"completion_tokens": OpenAIOutputTokens,
		"total_tokens":      OpenAIInputTokens + OpenAIOutputTokens,
		"prompt_tokens_details": map[string]any{
			"cached_tokens": OpenAICachedInputTokens, "audio_tokens": 0,
		},
		"completion_tokens_details": map[string]any{
			"reasoning_tokens": 0, "audio_tokens": 0,
			"accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
		},
	}
}

func chatCompletion(req *openAIRequest, n int64, tool string) map[string]any {
	message := map[string]any{"role": "assistant", "content": OpenAIReplyText, "refusal": nil, "annotations": []any{}}
	finish := "stop"
	if tool != "" {
		message["content"] = nil
		message["tool_calls"] = []any{map[string]any{
			"id": fmt.Sprintf("call_fake_%04d", n), "type": "function",
			"function": map[string]any{"name": tool, "arguments": OpenAIToolArguments},
		}}
		finish = "tool_calls"
	}
	return map[string]any{
		"id":      fmt.Sprintf("chatcmpl-fake-%04d", n),
		"object":  "chat.completion",
		"created": openAICreated,
		"model":   req.Model,
		"choices": []any{map[string]any{
			"index": 0, "message": message, "logprobs": nil, "finish_reason": finish,
		}},
		"usage":              openAIUsageChat(),
		"service_tier":       "default",
		"system_fingerprint": "fp_fake",
	}
}

func (f *openAIFake) streamChat(w http.ResponseWriter, r *http.Request, req *openAIRequest, n int64, tool string) {
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	chunk := func(delta map[string]any, finish any) string {
		c := map[string]any{
			"id":                 fmt.Sprintf("chatcmpl-fake-%04d", n),
			"object":             "chat.completion.chunk",
			"created":            openAICreated,
			"model":              req.Model,
			"system_fingerprint": "fp_fake",
			"choices": []any{map[string]any{
				"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish,
			}},
		}
		if includeUsage {
			c["usage"] = nil
		}
		return mustJSON(c)
	}

	s := newEventStream(w, r)
	var events []string
	if tool == "" {
		events = append(events, chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil))
		for _, piece := range splitWords(OpenAIReplyText) {
			events = append(events, chunk(map[string]any{"content": piece}, nil))
		}
		events = append(events, chunk(map[string]any{}, "stop"))
	} else {
		events = append(events, chunk(map[string]any{
			"role": "assistant", "content": nil, "refusal": nil,
			"tool_calls": []any{map[string]any{
				"index": 0, "id": fmt.Sprintf("call_fake_%04d", n), "type": "function",
				"function": map[string]any{"name": tool, "arguments": ""},
			}},
		}, nil))
		for _, piece := range splitMidToken(OpenAIToolArguments, 3) {
			events = append(events, chunk(map[string]any{
				"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": piece}}},
			}, nil))
		}
		events = append(events, chunk(map[string]any{}, "tool_calls"))
	}
	if includeUsage {
		events = append(events, mustJSON(map[string]any{
			"id": fmt.Sprintf("chatcmpl-fake-%04d", n), "object": "chat.completion.chunk",
			"created": openAICreated, "model": req.Model, "system_fingerprint": "fp_fake",
			"choices": []any{}, "usage": openAIUsageChat(),
		}))
	}
	events = append(events, "[DONE]")
	for _, e := range events {
		if !s.send("", e) {
			return
		}
	}
}

func openAIUsageResponses() map[string]any {
	return map[string]any{
		"input_tokens":          OpenAIInputTokens,
		"input_tokens_details":  map[string]any{"cached_tokens": OpenAICachedInputTokens},
		"output_tokens":         OpenAIOutputTokens,
		"output_tokens_details": map[string]any{"reasoning_tokens": 0},
		"total_tokens":          OpenAIInputTokens + OpenAIOutputTokens,
	}
}

// responseOutput returns the output items of a Responses reply with the
// given item status.
func responseOutput(n int64, tool, status string) []any {
	if tool != "" {
		return []any{map[string]any{
			"type": "function_call", "id": fmt.Sprintf("fc_fake_%04d", n),
			"call_id": fmt.Sprintf("call_fake_%04d", n), "name": tool,
			"arguments": OpenAIToolArguments, "status": status,
		}}
	}
	return []any{map[string]any{
		"type": "message", "id": fmt.Sprintf("msg_fake_%04d", n), "status": status, "role": "assistant",
		"content": []any{map[string]any{"type": "output_text", "text": OpenAIReplyText, "annotations": []any{}}},
	}}
}

// responseObject returns a Responses API response object. An in_progress
// one has no output and no usage yet, as in response.created.
func responseObject(req *openAIRequest, n int64, tool, status string) map[string]any {
	resp := map[string]any{
		"id":                  fmt.Sprintf("resp_fake_%04d", n),
		"object":              "response",
		"created_at":          openAICreated,
		"status":              status,
		"model":               req.Model,
		"output":              []any{},
		"usage":               nil,
		"error":               nil,
		"incomplete_details":  nil,
		"parallel_tool_calls": true,
		"tool_choice":         "auto",
		"tools":               []any{},
		"text":                map[string]any{"format": map[string]any{"type": "text"}},
	}
	if status == "completed" {
		resp["output"] = responseOutput(n, tool, "completed")
		resp["usage"] = openAIUsageResponses()
	}
	return resp
}

func (f *openAIFake) streamResponse(w http.ResponseWriter, r *http.Request, req *openAIRequest, n int64, tool string) {
	s := newEventStream(w, r)
	seq := 0
	send := func(typ string, fields map[string]any) bool {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		return s.send(typ, mustJSON(fields))
	}

	if !send("response.created", map[string]any{"response": responseObject(req, n, tool, "in_progress")}) ||
		!send("response.in_progress", map[string]any{"response": responseObject(req, n, tool, "in_progress")}) {
		return
	}
	added := responseOutput(n, tool, "in_progress")[0].(map[string]any)
	done := responseOutput(n, tool, "completed")[0].(map[string]any)
	itemID := added["id"]
	if tool != "" {
		added["arguments"] = ""
		if !send("response.output_item.added", map[string]any{"output_index": 0, "item": added}) {
			return
		}
		for _, piece := range splitMidToken(OpenAIToolArguments, 3) {
			if !send("response.function_call_arguments.delta", map[string]any{"item_id": itemID, "output_index": 0, "delta": piece}) {
				return
			}
		}
		if !send("response.function_call_arguments.done", map[string]any{"item_id": itemID, "output_index": 0, "arguments": OpenAIToolArguments}) {
			return
		}
	} else {
		added["content"] = []any{}
		if !send("response.output_item.added", map[string]any{"output_index": 0, "item": added}) ||
			!send("response.content_part.added", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0,
				"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}}) {
			return
		}
		for _, piece := range splitWords(OpenAIReplyText) {
			if !send("response.output_text.delta", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "delta": piece}) {
				return
			}
		}
		if !send("response.output_text.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "text": OpenAIReplyText}) ||
			!send("response.content_part.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0,
				"part": map[string]any{"type": "output_text", "text": OpenAIReplyText, "annotations": []any{}}}) {
			return
		}
	}
	if !send("response.output_item.done", map[string]any{"output_index": 0, "item": done}) {
		return
	}
	send("response.completed", map[string]any{"response": responseObject(req, n, tool, "completed")})
}
