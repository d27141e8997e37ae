package otelgemini

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/bijotel/bijotel-go/genai"
)

// generateContentResponse is a GenerateContentResponse: the whole reply of
// generateContent, or one chunk of streamGenerateContent. A stream may
// instead carry an error object in-band.
type generateContentResponse struct {
	Candidates []struct {
		Content      *content `json:"content"`
		FinishReason string   `json:"finishReason"`
		Index        int      `json:"index"`
	} `json:"candidates"`
	UsageMetadata *usageMetadata `json:"usageMetadata"`
	ModelVersion  string         `json:"modelVersion"`
	ResponseID    string         `json:"responseId"`
	Error         *apiError      `json:"error"`
}

// usageMetadata is Gemini's token usage. Pointers are nil for counts the
// response leaves out.
type usageMetadata struct {
	PromptTokenCount        *int64 `json:"promptTokenCount"`
	CandidatesTokenCount    *int64 `json:"candidatesTokenCount"`
	CachedContentTokenCount *int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      *int64 `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount *int64 `json:"toolUsePromptTokenCount"`
	TotalTokenCount         *int64 `json:"totalTokenCount"`
}

// usage converts the counts to the conventions' totals. Gemini's total is
// prompt + candidates + tool-use prompt + thoughts: promptTokenCount already
// includes cachedContentTokenCount, while the tool results fed back to the
// model and the thought tokens are counted apart. So input is prompt plus
// tool-use prompt, and output is candidates plus thoughts, which keeps
// input + output equal to totalTokenCount.
func (u *usageMetadata) usage() *genai.Usage {
	value := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	return &genai.Usage{
		InputTokens:           value(u.PromptTokenCount) + value(u.ToolUsePromptTokenCount),
		OutputTokens:          value(u.CandidatesTokenCount) + value(u.ThoughtsTokenCount),
		CacheReadInputTokens:  u.CachedContentTokenCount,
		ReasoningOutputTokens: u.ThoughtsTokenCount,
	}
}

// apiError is the error object of a Google API response body.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []struct {
		Type       string `json:"@type"`
		RetryDelay string `json:"retryDelay"`
	} `json:"details"`
}

// candidateState accumulates one candidate across chunks.
type candidateState struct {
	parts  []genai.Part
	finish string
	calls  bool
}

// add appends the parts of one chunk. Consecutive text, or consecutive
// thought text, merges into one part, so a streamed reply is recorded as
// the text it spells.
func (c *candidateState) add(parts []part) {
	for _, p := range parts {
		gp := convertPart(p)
		if gp == nil {
			continue
		}
		if p.FunctionCall != nil {
			c.calls = true
		}
		if n := len(c.parts); n > 0 && p.Text != nil && c.parts[n-1]["type"] == gp["type"] {
			prev, _ := c.parts[n-1]["content"].(string)
			c.parts[n-1]["content"] = prev + *p.Text
			continue
		}
		c.parts = append(c.parts, gp)
	}
}

// reply accumulates a generateContent or streamGenerateContent reply: a
// JSON object, a stream of server-sent events each holding one chunk, or a
// JSON array of chunks.
type reply struct {
	stream     bool
	id, model  string
	candidates map[int]*candidateState
	usage      *usageMetadata
	err        error
	seen       bool
}

func (r *reply) event(_ string, data []byte) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		r.array(data)
		return
	}
	var c generateContentResponse
	if json.Unmarshal(data, &c) != nil {
		return
	}
	r.chunk(&c)
}

// array applies the chunks of a JSON array body. A body cut short keeps the
// chunks that arrived whole.
func (r *reply) array(data []byte) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return
	}
	for dec.More() {
		var c generateContentResponse
		if dec.Decode(&c) != nil {
			return
		}
		r.chunk(&c)
	}
}

func (r *reply) chunk(c *generateContentResponse) {
	if c.Error != nil {
		r.err = &streamError{typ: errorType(c.Error, 0), message: c.Error.Message}
		return
	}
	r.seen = true
	if c.ResponseID != "" {
		r.id = c.ResponseID
	}
	if c.ModelVersion != "" {
		r.model = c.ModelVersion
	}
	// Every chunk repeats the cumulative usage so far, so the latest
	// replaces any earlier one; chunks are never added up.
	if c.UsageMetadata != nil {
		r.usage = c.UsageMetadata
	}
	if r.candidates == nil {
		r.candidates = make(map[int]*candidateState)
	}
	for _, cand := range c.Candidates {
		st := r.candidates[cand.Index]
		if st == nil {
			st = &candidateState{}
			r.candidates[cand.Index] = st
		}
		if cand.Content != nil {
			st.add(cand.Content.Parts)
		}
		if cand.FinishReason != "" {
			st.finish = cand.FinishReason
		}
	}
}

func (r *reply) response() (genai.Response, bool) {
	if !r.seen {
		return genai.Response{}, false
	}
	resp := genai.Response{ID: r.id, Model: r.model}
	if r.usage != nil {
		resp.Usage = r.usage.usage()
	}
	for _, i := range slices.Sorted(maps.Keys(r.candidates)) {
		st := r.candidates[i]
		resp.Messages = append(resp.Messages, genai.Message{
			Role:         "assistant",
			Parts:        st.parts,
			FinishReason: finishReason(st.finish, st.calls),
		})
		if st.finish != "" {
			resp.FinishReasons = append(resp.FinishReasons, st.finish)
		}
	}
	return resp, true
}

// complete reports whether the reply was received whole. A JSON reply is
// whole once it parses. A stream has no final marker, so it is whole only at
// the end of the body, and only when every candidate has a finish reason.
func (r *reply) complete(eof bool) bool {
	if !r.stream {
		return r.seen
	}
	if !eof || len(r.candidates) == 0 {
		return false
	}
	for _, st := range r.candidates {
		if st.finish == "" {
			return false
		}
	}
	return true
}

func (r *reply) failure() error { return r.err }

// finishReason maps a Gemini finishReason to the value of an output
// message's finish_reason in the GenAI conventions. Gemini ends a reply that
// calls a function with STOP, so calls decides between stop and tool_call.
func finishReason(reason string, calls bool) string {
	switch reason {
	case "":
		return ""
	case "STOP":
		if calls {
			return "tool_call"
		}
		return "stop"
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return "content_filter"
	case "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS":
		return "error"
	}
	return reason
}

// errorType picks the error.type of a Google API error: its status, such as
// RESOURCE_EXHAUSTED, else its code, else the HTTP status.
func errorType(e *apiError, status int) string {
	switch {
	case e != nil && e.Status != "":
		return e.Status
	case e != nil && e.Code != 0:
		return strconv.Itoa(e.Code)
	case status != 0:
		return strconv.Itoa(status)
	}
	return "error"
}

// streamError is an error that the provider reported inside a stream.
type streamError struct {
	typ     string
	message string
}

func (e *streamError) Error() string {
	if e.message != "" {
		return "stream error " + e.typ + ": " + e.message
	}
	return "stream error " + e.typ
}

// ErrorType returns the provider's error status.
func (e *streamError) ErrorType() string { return e.typ }

var _ genai.TypedError = (*streamError)(nil)
