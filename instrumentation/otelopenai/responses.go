package otelopenai

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/bijotel/bijotel-go/genai"
)

// responsesRequest is the part of a Responses API request body that the
// span records.
type responsesRequest struct {
	Model           string            `json:"model"`
	Input           json.RawMessage   `json:"input"`
	Instructions    *string           `json:"instructions"`
	MaxOutputTokens *int64            `json:"max_output_tokens"`
	Temperature     *float64          `json:"temperature"`
	TopP            *float64          `json:"top_p"`
	Stream          bool              `json:"stream"`
	Tools           []json.RawMessage `json:"tools"`
}

// responsesItem is an input or output item of the Responses API, with the
// fields of the item types that the span records.
type responsesItem struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Output    json.RawMessage `json:"output"`
	Summary   []struct {
		Text string `json:"text"`
	} `json:"summary"`
}

// parseResponsesRequest fills the request fields of a Responses API body.
func parseResponsesRequest(data []byte, req *genai.Request) {
	var r responsesRequest
	if json.Unmarshal(data, &r) != nil {
		return
	}
	req.Model = r.Model
	req.MaxTokens = r.MaxOutputTokens
	req.Temperature = r.Temperature
	req.TopP = r.TopP
	req.Stream = r.Stream
	if r.Instructions != nil && *r.Instructions != "" {
		req.SystemInstructions = []genai.Part{genai.TextPart(*r.Instructions)}
	}
	req.Messages = responsesInput(r.Input)
	if len(r.Tools) > 0 {
		defs := make([]any, 0, len(r.Tools))
		for _, t := range r.Tools {
			defs = append(defs, jsonValue(t))
		}
		req.ToolDefinitions = defs
	}
}

// responsesInput converts the input parameter: a string, which is one user
// message, or a list of items.
func responsesInput(raw json.RawMessage) []genai.Message {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return []genai.Message{{Role: "user", Parts: []genai.Part{genai.TextPart(text)}}}
	}
	var items []responsesItem
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var msgs []genai.Message
	for _, it := range items {
		msgs = append(msgs, responsesItemMessage(it))
	}
	return msgs
}

// responsesItemMessage converts one input item to a message.
func responsesItemMessage(it responsesItem) genai.Message {
	switch it.Type {
	case "", "message":
		return genai.Message{Role: it.Role, Parts: contentParts(it.Content)}
	case "function_call":
		return genai.Message{Role: "assistant", Parts: []genai.Part{responsesToolCall(it)}}
	case "function_call_output":
		return genai.Message{Role: "tool", Parts: []genai.Part{genai.ToolCallResponsePart(it.CallID, contentText(it.Output))}}
	case "reasoning":
		return genai.Message{Role: "assistant", Parts: []genai.Part{reasoningPart(it)}}
	}
	return genai.Message{Role: "user", Parts: []genai.Part{{"type": it.Type}}}
}

func responsesToolCall(it responsesItem) genai.Part {
	return genai.ToolCallPart(it.CallID, it.Name, genai.ToolCallArguments(it.Arguments))
}

func reasoningPart(it responsesItem) genai.Part {
	texts := make([]string, 0, len(it.Summary))
	for _, s := range it.Summary {
		texts = append(texts, s.Text)
	}
	return genai.ReasoningPart(strings.Join(texts, "\n"))
}

// responsesUsage is the usage object of the Responses API.
type responsesUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	OutputTokens       int64 `json:"output_tokens"`
	InputTokensDetails *struct {
		CachedTokens *int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails *struct {
		ReasoningTokens *int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// usage converts the counts. input_tokens already includes the cached
// tokens, as gen_ai.usage.input_tokens requires.
func (u *responsesUsage) usage() *genai.Usage {
	out := &genai.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens}
	if d := u.InputTokensDetails; d != nil {
		out.CacheReadInputTokens = d.CachedTokens
	}
	if d := u.OutputTokensDetails; d != nil {
		out.ReasoningOutputTokens = d.ReasoningTokens
	}
	return out
}

// responseObject is a Responses API response object.
type responseObject struct {
	ID                string          `json:"id"`
	Model             string          `json:"model"`
	Status            string          `json:"status"`
	Output            []responsesItem `json:"output"`
	Usage             *responsesUsage `json:"usage"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// finishReason derives a finish reason, which the Responses API does not
// report, from the status: "stop" or "tool_calls" for a completed response,
// the incomplete_details reason (such as "max_output_tokens") for an
// incomplete one, and the status itself otherwise. The second value is the
// output message's finish_reason in the GenAI conventions.
func (r *responseObject) finishReason() (raw, message string) {
	switch r.Status {
	case "completed":
		for _, it := range r.Output {
			if it.Type == "function_call" {
				return "tool_calls", "tool_call"
			}
		}
		return "stop", "stop"
	case "incomplete":
		reason := "incomplete"
		if r.IncompleteDetails != nil && r.IncompleteDetails.Reason != "" {
			reason = r.IncompleteDetails.Reason
		}
		switch reason {
		case "max_output_tokens":
			return reason, "length"
		case "content_filter":
			return reason, "content_filter"
		}
		return reason, reason
	case "failed":
		return "failed", "error"
	}
	return r.Status, r.Status
}

// convert returns the response as a genai.Response. All output items form
// one assistant message.
func (r *responseObject) convert() genai.Response {
	resp := genai.Response{ID: r.ID, Model: r.Model}
	msg := genai.Message{Role: "assistant"}
	for _, it := range r.Output {
		msg.Parts = append(msg.Parts, outputItemParts(it)...)
	}
	if r.Status != "" && r.Status != "in_progress" && r.Status != "queued" {
		raw, mapped := r.finishReason()
		resp.FinishReasons = []string{raw}
		msg.FinishReason = mapped
	}
	if len(msg.Parts) > 0 || msg.FinishReason != "" {
		resp.Messages = []genai.Message{msg}
	}
	if r.Usage != nil {
		resp.Usage = r.Usage.usage()
	}
	return resp
}

// outputItemParts converts one output item to message parts.
func outputItemParts(it responsesItem) []genai.Part {
	switch it.Type {
	case "message":
		return contentParts(it.Content)
	case "function_call":
		return []genai.Part{responsesToolCall(it)}
	case "reasoning":
		if len(it.Summary) == 0 {
			return nil
		}
		return []genai.Part{reasoningPart(it)}
	}
	return []genai.Part{{"type": it.Type}}
}

// responsesJSON accumulates a plain Responses API reply.
type responsesJSON struct {
	resp genai.Response
	ok   bool
}

func (a *responsesJSON) event(_ string, data []byte) {
	var r responseObject
	if json.Unmarshal(data, &r) != nil {
		return
	}
	a.resp, a.ok = r.convert(), true
}
func (a *responsesJSON) response() (genai.Response, bool) { return a.resp, a.ok }
func (a *responsesJSON) complete(bool) bool               { return a.ok }
func (a *responsesJSON) failure() error                   { return nil }

// responsesEvent is one event of a Responses API stream, with the fields of
// the event types that the span records.
type responsesEvent struct {
	Type         string          `json:"type"`
	Response     *responseObject `json:"response"`
	OutputIndex  int             `json:"output_index"`
	ContentIndex int             `json:"content_index"`
	Item         *responsesItem  `json:"item"`
	Delta        string          `json:"delta"`
	Text         string          `json:"text"`
	Arguments    *string         `json:"arguments"`
	Code         json.RawMessage `json:"code"`
	Message      string          `json:"message"`
}

// responsesStream accumulates a streamed Responses API reply. The terminal
// event carries the whole response, which then replaces what the deltas
// built.
type responsesStream struct {
	id, model string
	items     map[int]*streamItem
	final     *responseObject
	err       error
	seen      bool
}

type streamItem struct {
	item responsesItem
	// texts are the output_text parts by content_index.
	texts map[int]*strings.Builder
	args  strings.Builder
	// done is set when output_item.done delivered the whole item.
	done bool
}

func (s *responsesStream) event(name string, data []byte) {
	var e responsesEvent
	if json.Unmarshal(data, &e) != nil {
		return
	}
	if e.Type == "" {
		e.Type = name
	}
	s.seen = true
	if e.Response != nil {
		if e.Response.ID != "" {
			s.id = e.Response.ID
		}
		if e.Response.Model != "" {
			s.model = e.Response.Model
		}
	}
	switch e.Type {
	case "response.completed", "response.incomplete", "response.failed":
		s.final = e.Response
		if e.Type == "response.failed" && e.Response != nil {
			typ, msg := "failed", ""
			if e.Response.Error != nil {
				typ, msg = e.Response.Error.Code, e.Response.Error.Message
			}
			s.err = &streamError{typ: typ, message: msg}
		}
	case "error":
		s.err = &streamError{typ: errorTypeOf("", e.Code), message: e.Message}
	case "response.output_item.added":
		if e.Item != nil {
			s.item(e.OutputIndex).item = *e.Item
		}
	case "response.output_item.done":
		if e.Item != nil {
			it := s.item(e.OutputIndex)
			it.item, it.done = *e.Item, true
		}
	case "response.output_text.delta", "response.refusal.delta":
		s.text(e.OutputIndex, e.ContentIndex).WriteString(e.Delta)
	case "response.output_text.done":
		b := s.text(e.OutputIndex, e.ContentIndex)
		b.Reset()
		b.WriteString(e.Text)
	case "response.function_call_arguments.delta":
		s.item(e.OutputIndex).args.WriteString(e.Delta)
	case "response.function_call_arguments.done":
		if e.Arguments != nil {
			it := s.item(e.OutputIndex)
			it.args.Reset()
			it.args.WriteString(*e.Arguments)
		}
	}
}

func (s *responsesStream) item(i int) *streamItem {
	if s.items == nil {
		s.items = make(map[int]*streamItem)
	}
	it := s.items[i]
	if it == nil {
		it = &streamItem{texts: make(map[int]*strings.Builder)}
		s.items[i] = it
	}
	return it
}

func (s *responsesStream) text(item, part int) *strings.Builder {
	it := s.item(item)
	b := it.texts[part]
	if b == nil {
		b = &strings.Builder{}
		it.texts[part] = b
	}
	return b
}

func (s *responsesStream) response() (genai.Response, bool) {
	if s.final != nil {
		return s.final.convert(), true
	}
	if !s.seen {
		return genai.Response{}, false
	}
	// Without a terminal event, the parts come from the items and deltas
	// received so far.
	resp := genai.Response{ID: s.id, Model: s.model}
	msg := genai.Message{Role: "assistant"}

	indexes := make([]int, 0, len(s.items))
	for i := range s.items {
		indexes = append(indexes, i)
	}
	sort.Ints(indexes)

	for _, i := range indexes {
		it := s.items[i]
		if it.done {
			msg.Parts = append(msg.Parts, outputItemParts(it.item)...)
			continue
		}
		switch it.item.Type {
		case "function_call":
			partial := it.item
			partial.Arguments = it.args.String()
			msg.Parts = append(msg.Parts, responsesToolCall(partial))
		default:
			parts := make([]int, 0, len(it.texts))
			for p := range it.texts {
				parts = append(parts, p)
			}
			sort.Ints(parts)
			for _, p := range parts {
				if it.texts[p].Len() > 0 {
					msg.Parts = append(msg.Parts, genai.TextPart(it.texts[p].String()))
				}
			}
		}
	}

	if len(msg.Parts) > 0 {
		resp.Messages = []genai.Message{msg}
	}
	return resp, true
}

func (s *responsesStream) complete(bool) bool { return s.final != nil || s.err != nil }
func (s *responsesStream) failure() error     { return s.err }
