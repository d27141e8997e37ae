package otelopenai

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/bijotel/bijotel-go/genai"
)

// chatRequest is the part of a Chat Completions request body that the span
// records.
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	N                   *int64          `json:"n"`
	Stream              bool            `json:"stream"`
	Tools               []chatTool      `json:"tools"`
}

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Refusal    *string         `json:"refusal"`
	ToolCalls  []chatToolCall  `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      *bool           `json:"strict"`
	} `json:"function"`
	Custom json.RawMessage `json:"custom"`
}

// parseChatRequest fills the request fields of a Chat Completions body. It
// keeps what it can read of a body that is not valid JSON: nothing.
func parseChatRequest(data []byte, req *genai.Request) {
	var r chatRequest
	if json.Unmarshal(data, &r) != nil {
		return
	}
	req.Model = r.Model
	req.MaxTokens = r.MaxCompletionTokens
	if req.MaxTokens == nil {
		req.MaxTokens = r.MaxTokens
	}
	req.Temperature = r.Temperature
	req.TopP = r.TopP
	req.FrequencyPenalty = r.FrequencyPenalty
	req.PresencePenalty = r.PresencePenalty
	req.Seed = r.Seed
	req.StopSequences = stopSequences(r.Stop)
	req.ChoiceCount = r.N
	req.Stream = r.Stream
	for _, m := range r.Messages {
		req.Messages = append(req.Messages, chatInputMessage(m))
	}
	if len(r.Tools) > 0 {
		defs := make([]any, 0, len(r.Tools))
		for _, t := range r.Tools {
			defs = append(defs, chatToolDefinition(t))
		}
		req.ToolDefinitions = defs
	}
}

// stopSequences reads the stop parameter, a string or an array of strings.
func stopSequences(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil
		}
		return []string{one}
	}
	var many []string
	json.Unmarshal(raw, &many)
	return many
}

// chatToolDefinition renders a tool in the flat form of
// gen_ai.tool.definitions: type, name, description and parameters.
func chatToolDefinition(t chatTool) map[string]any {
	def := map[string]any{"type": t.Type}
	if t.Type == "custom" && len(t.Custom) > 0 {
		if v, ok := jsonValue(t.Custom).(map[string]any); ok {
			for k, val := range v {
				def[k] = val
			}
		}
		return def
	}
	def["name"] = t.Function.Name
	if t.Function.Description != "" {
		def["description"] = t.Function.Description
	}
	if len(t.Function.Parameters) > 0 {
		def["parameters"] = jsonValue(t.Function.Parameters)
	}
	if t.Function.Strict != nil {
		def["strict"] = *t.Function.Strict
	}
	return def
}

func chatInputMessage(m chatMessage) genai.Message {
	msg := genai.Message{Role: m.Role}
	if m.Role == "tool" {
		msg.Parts = []genai.Part{genai.ToolCallResponsePart(m.ToolCallID, contentText(m.Content))}
		return msg
	}
	msg.Parts = contentParts(m.Content)
	if m.Refusal != nil && *m.Refusal != "" {
		msg.Parts = append(msg.Parts, refusalPart(*m.Refusal))
	}
	for _, tc := range m.ToolCalls {
		msg.Parts = append(msg.Parts, genai.ToolCallPart(tc.ID, tc.Function.Name, genai.ToolCallArguments(tc.Function.Arguments)))
	}
	return msg
}

// dropEmptyText removes text parts without text.
func dropEmptyText(parts []genai.Part) []genai.Part {
	out := parts[:0]
	for _, p := range parts {
		if p["type"] == "text" && p["content"] == "" {
			continue
		}
		out = append(out, p)
	}
	return out
}

// refusalPart records a model's refusal text. The GenAI conventions have no
// part type for it, so it is a text part marked as a refusal.
func refusalPart(text string) genai.Part {
	p := genai.TextPart(text)
	p["refusal"] = true
	return p
}

// chatUsage is the usage object of Chat Completions.
type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens *int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens *int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

// usage converts the counts. OpenAI's prompt_tokens already include the
// cached tokens, as gen_ai.usage.input_tokens requires.
func (u *chatUsage) usage() *genai.Usage {
	out := &genai.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
	if d := u.PromptTokensDetails; d != nil {
		out.CacheReadInputTokens = d.CachedTokens
	}
	if d := u.CompletionTokensDetails; d != nil {
		out.ReasoningOutputTokens = d.ReasoningTokens
	}
	return out
}

// chatFinishReason maps a Chat Completions finish_reason to the value of an
// output message's finish_reason in the GenAI conventions.
func chatFinishReason(reason string) string {
	switch reason {
	case "tool_calls", "function_call":
		return "tool_call"
	}
	return reason
}

// chatCompletion is a Chat Completions response body.
type chatCompletion struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int         `json:"index"`
		Message      chatMessage `json:"message"`
		FinishReason string      `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

// chatResponse converts a Chat Completions JSON body. ok is false when the
// body is not one.
func chatResponse(data []byte) (resp genai.Response, ok bool) {
	var c chatCompletion
	if json.Unmarshal(data, &c) != nil {
		return resp, false
	}
	resp.ID, resp.Model = c.ID, c.Model
	sort.SliceStable(c.Choices, func(i, j int) bool { return c.Choices[i].Index < c.Choices[j].Index })
	for _, ch := range c.Choices {
		msg := chatInputMessage(ch.Message)
		if msg.Role == "" {
			msg.Role = "assistant"
		}
		// A reply that only calls tools often carries "content": "" too;
		// the streamed form of the same reply has no text part at all.
		msg.Parts = dropEmptyText(msg.Parts)
		msg.FinishReason = chatFinishReason(ch.FinishReason)
		resp.Messages = append(resp.Messages, msg)
		if ch.FinishReason != "" {
			resp.FinishReasons = append(resp.FinishReasons, ch.FinishReason)
		}
	}
	if c.Usage != nil {
		resp.Usage = c.Usage.usage()
	}
	return resp, true
}

// chatJSON accumulates a plain Chat Completions reply.
type chatJSON struct {
	resp genai.Response
	ok   bool
}

func (a *chatJSON) event(_ string, data []byte)      { a.resp, a.ok = chatResponse(data) }
func (a *chatJSON) response() (genai.Response, bool) { return a.resp, a.ok }
func (a *chatJSON) complete(bool) bool               { return a.ok }
func (a *chatJSON) failure() error                   { return nil }

// chatChunk is one event of a Chat Completions stream.
type chatChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role      string  `json:"role"`
			Content   *string `json:"content"`
			Refusal   *string `json:"refusal"`
			ToolCalls []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	// Usage is null on every chunk but the last one, and absent everywhere
	// unless the request set stream_options.include_usage.
	Usage *chatUsage `json:"usage"`
	// XGroq carries the usage on Groq, which puts it there instead.
	XGroq *struct {
		Usage *chatUsage `json:"usage"`
	} `json:"x_groq"`
	Error *struct {
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	} `json:"error"`
}

// chatStream accumulates a streamed Chat Completions reply.
type chatStream struct {
	id, model string
	choices   map[int]*choiceState
	usage     *genai.Usage
	done      bool
	err       error
	seen      bool
}

type choiceState struct {
	role    string
	text    strings.Builder
	refusal strings.Builder
	finish  string
	calls   []*toolCallState
	// byIndex maps the tool_calls index of the deltas to calls.
	byIndex map[int]*toolCallState
}

type toolCallState struct {
	id, name string
	args     strings.Builder
}

func (s *chatStream) event(_ string, data []byte) {
	if strings.TrimSpace(string(data)) == "[DONE]" {
		s.done = true
		return
	}
	var c chatChunk
	if json.Unmarshal(data, &c) != nil {
		return
	}

	if c.Error != nil {
		s.err = &streamError{typ: errorTypeOf(c.Error.Type, c.Error.Code), message: c.Error.Message}
		return
	}
	s.seen = true
	if c.ID != "" {
		s.id = c.ID
	}
	if c.Model != "" {
		s.model = c.Model
	}

	// Each usage object is the whole count so far, so the latest replaces
	// any earlier one; counts are never added up.
	if c.Usage != nil {
		s.usage = c.Usage.usage()
	} else if c.XGroq != nil && c.XGroq.Usage != nil {
		s.usage = c.XGroq.Usage.usage()
	}

	if s.choices == nil {
		s.choices = make(map[int]*choiceState)
	}
	for _, ch := range c.Choices {
		st := s.choices[ch.Index]
		if st == nil {
			st = &choiceState{byIndex: make(map[int]*toolCallState)}
			s.choices[ch.Index] = st
		}
		d := ch.Delta
		if d.Role != "" {
			st.role = d.Role
		}
		if d.Content != nil {
			st.text.WriteString(*d.Content)
		}
		if d.Refusal != nil {
			st.refusal.WriteString(*d.Refusal)
		}

		for _, tc := range d.ToolCalls {
			call := st.byIndex[tc.Index]
			// A fragment with a new id at a used index starts another call,
			// as some OpenAI-compatible providers send every call at index 0.
			if call == nil || tc.ID != "" && call.id != "" && tc.ID != call.id {
				call = &toolCallState{}
				st.byIndex[tc.Index] = call
				st.calls = append(st.calls, call)
			}
			if tc.ID != "" {
				call.id = tc.ID
			}
			if tc.Function.Name != "" {
				call.name = tc.Function.Name
			}
			call.args.WriteString(tc.Function.Arguments)
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			st.finish = *ch.FinishReason
		}
	}
}

func (s *chatStream) response() (genai.Response, bool) {
	if !s.seen {
		return genai.Response{}, false
	}
	resp := genai.Response{ID: s.id, Model: s.model, Usage: s.usage}
	indexes := make([]int, 0, len(s.choices))
	for i := range s.choices {
		indexes = append(indexes, i)
	}
	sort.Ints(indexes)
	for _, i := range indexes {
		st := s.choices[i]
		msg := genai.Message{Role: st.role, FinishReason: chatFinishReason(st.finish)}
		if msg.Role == "" {
			msg.Role = "assistant"
		}
		if st.text.Len() > 0 {
			msg.Parts = append(msg.Parts, genai.TextPart(st.text.String()))
		}
		if st.refusal.Len() > 0 {
			msg.Parts = append(msg.Parts, refusalPart(st.refusal.String()))
		}
		for _, c := range st.calls {
			// Arguments that are not valid JSON, as when the stream stopped
			// inside them, are kept as the text that arrived.
			msg.Parts = append(msg.Parts, genai.ToolCallPart(c.id, c.name, genai.ToolCallArguments(c.args.String())))
		}
		resp.Messages = append(resp.Messages, msg)
		if st.finish != "" {
			resp.FinishReasons = append(resp.FinishReasons, st.finish)
		}
	}
	return resp, true
}

// complete reports whether the stream reached [DONE]. Some OpenAI-compatible
// providers end the body without [DONE]; at the end of the body, a finish
// reason on every choice counts as the end then. Before the end of the body
// it does not, because a usage chunk may still follow the finish reasons.
func (s *chatStream) complete(eof bool) bool {
	if s.done {
		return true
	}
	if !eof || len(s.choices) == 0 {
		return false
	}
	for _, st := range s.choices {
		if st.finish == "" {
			return false
		}
	}
	return true
}

func (s *chatStream) failure() error { return s.err }
