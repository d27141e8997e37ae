package otelcohere

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/bijotel/bijotel-go/genai"
)

// usage is Cohere's usage object, which counts tokens twice. tokens counts
// every token the model read and wrote, the prompt template that Cohere
// adds included. billed_units counts the tokens Cohere charges for, which
// leave the template out. Counts are JSON numbers that may have a
// fraction.
type usage struct {
	BilledUnits *tokenCounts `json:"billed_units"`
	Tokens      *tokenCounts `json:"tokens"`
}

type tokenCounts struct {
	InputTokens  *float64 `json:"input_tokens"`
	OutputTokens *float64 `json:"output_tokens"`
}

// usage converts the counts. It takes tokens, because the conventions'
// input_tokens count what the model processed, and falls back to
// billed_units when a response has no tokens object. It returns nil when
// the response has neither.
func (u *usage) usage() *genai.Usage {
	c := u.Tokens
	if c == nil || c.InputTokens == nil && c.OutputTokens == nil {
		c = u.BilledUnits
	}
	if c == nil || c.InputTokens == nil && c.OutputTokens == nil {
		return nil
	}
	count := func(f *float64) int64 {
		if f == nil {
			return 0
		}
		return int64(math.Round(*f))
	}
	return &genai.Usage{InputTokens: count(c.InputTokens), OutputTokens: count(c.OutputTokens)}
}

// chatResponse is a v2 chat response body.
type chatResponse struct {
	ID           string `json:"id"`
	FinishReason string `json:"finish_reason"`
	Message      *struct {
		Role      string          `json:"role"`
		Content   json.RawMessage `json:"content"`
		ToolPlan  string          `json:"tool_plan"`
		ToolCalls []toolCall      `json:"tool_calls"`
	} `json:"message"`
	Usage *usage `json:"usage"`
}

// finishReason maps a Cohere finish_reason to the value of an output
// message's finish_reason in the GenAI conventions.
func finishReason(reason string) string {
	switch reason {
	case "COMPLETE", "STOP_SEQUENCE":
		return "stop"
	case "MAX_TOKENS":
		return "length"
	case "TOOL_CALL":
		return "tool_call"
	case "ERROR":
		return "error"
	}
	return reason
}

// replyJSON accumulates a v2 chat JSON reply.
type replyJSON struct {
	resp genai.Response
	ok   bool
}

func (a *replyJSON) event(_ string, data []byte) {
	var r chatResponse
	if json.Unmarshal(data, &r) != nil || r.ID == "" && r.Message == nil {
		return
	}
	a.ok = true
	a.resp = genai.Response{ID: r.ID}
	if r.FinishReason != "" {
		a.resp.FinishReasons = []string{r.FinishReason}
	}
	if r.Usage != nil {
		a.resp.Usage = r.Usage.usage()
	}
	if m := r.Message; m != nil {
		msg := inputMessage(chatMessage{Role: m.Role, Content: m.Content, ToolPlan: m.ToolPlan, ToolCalls: m.ToolCalls})
		if msg.Role == "" {
			msg.Role = "assistant"
		}
		msg.FinishReason = finishReason(r.FinishReason)
		a.resp.Messages = []genai.Message{msg}
	}
}

func (a *replyJSON) response() (genai.Response, bool) { return a.resp, a.ok }
func (a *replyJSON) complete(bool) bool               { return a.ok }
func (a *replyJSON) failure() error                   { return nil }

// streamEvent is one event of a v2 chat stream. Its delta has a different
// shape for each type: message-start sends content and tool_calls as
// arrays, the later events send them as single objects.
type streamEvent struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Index int             `json:"index"`
	Delta json.RawMessage `json:"delta"`
}

// contentDelta is the delta of content-start and content-delta.
type contentDelta struct {
	Message struct {
		Content struct {
			Type     string  `json:"type"`
			Text     *string `json:"text"`
			Thinking *string `json:"thinking"`
		} `json:"content"`
	} `json:"message"`
}

// planDelta is the delta of tool-plan-delta.
type planDelta struct {
	Message struct {
		ToolPlan string `json:"tool_plan"`
	} `json:"message"`
}

// callDelta is the delta of tool-call-start and tool-call-delta.
type callDelta struct {
	Message struct {
		ToolCalls struct {
			ID       string `json:"id"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	} `json:"message"`
}

// endDelta is the delta of message-end.
type endDelta struct {
	FinishReason string `json:"finish_reason"`
	Usage        *usage `json:"usage"`
	Error        string `json:"error"`
}

// replyStream accumulates a streamed v2 chat reply.
type replyStream struct {
	id       string
	plan     strings.Builder
	contents map[int]*contentState
	calls    map[int]*callState
	finish   string
	usage    *genai.Usage
	ended    bool
	done     bool
	err      error
	seen     bool
}

type contentState struct {
	thinking bool
	text     strings.Builder
}

type callState struct {
	id, name string
	args     strings.Builder
}

func (s *replyStream) event(_ string, data []byte) {
	if strings.TrimSpace(string(data)) == "[DONE]" {
		s.done = true
		return
	}
	var e streamEvent
	if json.Unmarshal(data, &e) != nil || e.Type == "" {
		return
	}
	s.seen = true
	if e.ID != "" {
		s.id = e.ID
	}
	switch e.Type {
	case "content-start", "content-delta":
		var d contentDelta
		if json.Unmarshal(e.Delta, &d) != nil {
			return
		}
		c := d.Message.Content
		st := s.content(e.Index)
		if c.Type == "thinking" || c.Thinking != nil {
			st.thinking = true
		}
		if c.Text != nil {
			st.text.WriteString(*c.Text)
		}
		if c.Thinking != nil {
			st.text.WriteString(*c.Thinking)
		}
	case "tool-plan-delta":
		var d planDelta
		if json.Unmarshal(e.Delta, &d) == nil {
			s.plan.WriteString(d.Message.ToolPlan)
		}
	case "tool-call-start", "tool-call-delta":
		var d callDelta
		if json.Unmarshal(e.Delta, &d) != nil {
			return
		}
		tc := d.Message.ToolCalls
		st := s.call(e.Index)
		if tc.ID != "" {
			st.id = tc.ID
		}
		if tc.Function.Name != "" {
			st.name = tc.Function.Name
		}
		st.args.WriteString(tc.Function.Arguments)
	case "message-end":
		s.ended = true
		var d endDelta
		if json.Unmarshal(e.Delta, &d) != nil {
			return
		}
		s.finish = d.FinishReason
		if d.Usage != nil {
			s.usage = d.Usage.usage()
		}
		if d.Error != "" || d.FinishReason == "ERROR" {
			s.err = &streamError{typ: "ERROR", message: d.Error}
		}
	}
}

func (s *replyStream) content(i int) *contentState {
	if s.contents == nil {
		s.contents = make(map[int]*contentState)
	}
	if s.contents[i] == nil {
		s.contents[i] = &contentState{}
	}
	return s.contents[i]
}

func (s *replyStream) call(i int) *callState {
	if s.calls == nil {
		s.calls = make(map[int]*callState)
	}
	if s.calls[i] == nil {
		s.calls[i] = &callState{}
	}
	return s.calls[i]
}

func (s *replyStream) response() (genai.Response, bool) {
	if !s.seen {
		return genai.Response{}, false
	}
	resp := genai.Response{ID: s.id, Usage: s.usage}
	msg := genai.Message{Role: "assistant", FinishReason: finishReason(s.finish)}
	if s.plan.Len() > 0 {
		msg.Parts = append(msg.Parts, genai.ReasoningPart(s.plan.String()))
	}
	for _, i := range slices.Sorted(maps.Keys(s.contents)) {
		st := s.contents[i]
		if st.thinking {
			msg.Parts = append(msg.Parts, genai.ReasoningPart(st.text.String()))
		} else {
			msg.Parts = append(msg.Parts, genai.TextPart(st.text.String()))
		}
	}
	for _, i := range slices.Sorted(maps.Keys(s.calls)) {
		c := s.calls[i]
		// Arguments that are not valid JSON, as when the stream stopped
		// inside them, are kept as the text that arrived.
		msg.Parts = append(msg.Parts, genai.ToolCallPart(c.id, c.name, genai.ToolCallArguments(c.args.String())))
	}
	resp.Messages = []genai.Message{msg}
	if s.finish != "" {
		resp.FinishReasons = []string{s.finish}
	}
	return resp, true
}

// complete reports whether message-end, the last event of a reply, or the
// [DONE] event after it arrived.
func (s *replyStream) complete(bool) bool { return s.ended || s.done }

func (s *replyStream) failure() error { return s.err }

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

// ErrorType returns the provider's error type or finish reason.
func (e *streamError) ErrorType() string { return e.typ }

var _ genai.TypedError = (*streamError)(nil)
