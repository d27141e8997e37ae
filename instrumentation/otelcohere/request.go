package otelcohere

import (
	"encoding/json"
	"strings"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/jcs"
)

// chatRequest is the part of a v2 chat request body that the span records.
//
// NOTE: Request-level documents for retrieval-augmented generation are not
// recorded; only the messages are.
type chatRequest struct {
	Model            string          `json:"model"`
	Messages         []chatMessage   `json:"messages"`
	Tools            []chatTool      `json:"tools"`
	Stream           bool            `json:"stream"`
	MaxTokens        *int64          `json:"max_tokens"`
	StopSequences    []string        `json:"stop_sequences"`
	Temperature      *float64        `json:"temperature"`
	Seed             *int64          `json:"seed"`
	FrequencyPenalty *float64        `json:"frequency_penalty"`
	PresencePenalty  *float64        `json:"presence_penalty"`
	K                *float64        `json:"k"`
	P                *float64        `json:"p"`
	ResponseFormat   *responseFormat `json:"response_format"`
}

type responseFormat struct {
	Type string `json:"type"`
}

// chatMessage is a message of any role. Content is a string or an array of
// content blocks.
type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolPlan   string          `json:"tool_plan"`
	ToolCalls  []toolCall      `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

type toolCall struct {
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
	} `json:"function"`
}

// contentBlock is one block of a message's content array.
type contentBlock struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Thinking string `json:"thinking"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
	Document json.RawMessage `json:"document"`
}

// parseRequest fills the request fields of a v2 chat body and returns the
// gen_ai.output.type it requests, or "". A body that is not valid JSON
// leaves the fields empty.
func parseRequest(data []byte, req *genai.Request) string {
	var r chatRequest
	if json.Unmarshal(data, &r) != nil {
		return ""
	}
	req.Model = r.Model
	req.Stream = r.Stream
	req.MaxTokens = r.MaxTokens
	req.StopSequences = r.StopSequences
	req.Temperature = r.Temperature
	req.Seed = r.Seed
	req.FrequencyPenalty = r.FrequencyPenalty
	req.PresencePenalty = r.PresencePenalty
	req.TopK = r.K
	req.TopP = r.P
	for _, m := range r.Messages {
		req.Messages = append(req.Messages, inputMessage(m))
	}
	if len(r.Tools) > 0 {
		defs := make([]any, 0, len(r.Tools))
		for _, t := range r.Tools {
			def := map[string]any{"type": t.Type, "name": t.Function.Name}
			if t.Function.Description != "" {
				def["description"] = t.Function.Description
			}
			if len(t.Function.Parameters) > 0 {
				def["parameters"] = jsonValue(t.Function.Parameters)
			}
			defs = append(defs, def)
		}
		req.ToolDefinitions = defs
	}
	return outputType(r.ResponseFormat)
}

// outputType returns the gen_ai.output.type that response_format requests,
// or "" when the request sets none.
func outputType(f *responseFormat) string {
	if f == nil {
		return ""
	}
	switch f.Type {
	case "json_object":
		return "json"
	case "text":
		return "text"
	}
	return ""
}

// inputMessage converts one request message. A tool message becomes a
// tool_call_response part; an assistant message's tool_plan becomes a
// reasoning part before its content and tool calls.
func inputMessage(m chatMessage) genai.Message {
	msg := genai.Message{Role: m.Role}
	if m.Role == "tool" {
		msg.Parts = []genai.Part{genai.ToolCallResponsePart(m.ToolCallID, toolResult(m.Content))}
		return msg
	}
	if m.ToolPlan != "" {
		msg.Parts = append(msg.Parts, genai.ReasoningPart(m.ToolPlan))
	}
	msg.Parts = append(msg.Parts, contentParts(m.Content)...)
	for _, tc := range m.ToolCalls {
		msg.Parts = append(msg.Parts, genai.ToolCallPart(tc.ID, tc.Function.Name, genai.ToolCallArguments(tc.Function.Arguments)))
	}
	return msg
}

// contentParts converts message content, a string or an array of blocks.
func contentParts(raw json.RawMessage) []genai.Part {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if text == "" {
			return nil
		}
		return []genai.Part{genai.TextPart(text)}
	}
	var blocks []contentBlock
	if json.Unmarshal(raw, &blocks) != nil {
		return nil
	}
	parts := make([]genai.Part, 0, len(blocks))
	for _, b := range blocks {
		switch b.Type {
		case "text":
			parts = append(parts, genai.TextPart(b.Text))
		case "thinking":
			parts = append(parts, genai.ReasoningPart(b.Thinking))
		case "image_url":
			if b.ImageURL != nil {
				parts = append(parts, imagePart(b.ImageURL.URL))
			}
		case "document":
			parts = append(parts, genai.Part{"type": "document", "content": jsonValue(b.Document)})
		}
	}
	return parts
}

// imagePart records an image given by URL: a data URL as a blob part with
// its base64 content, any other URL as a uri part.
func imagePart(url string) genai.Part {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		meta, data, found := strings.Cut(rest, ",")
		if mime, isBase64 := strings.CutSuffix(meta, ";base64"); found && isBase64 {
			return genai.Part{"type": "blob", "modality": "image", "mime_type": mime, "content": data}
		}
	}
	return genai.Part{"type": "uri", "modality": "image", "uri": url}
}

// toolResult returns a tool message's content: its text when it is a string
// or text blocks only, else the blocks as JSON values.
func toolResult(raw json.RawMessage) any {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text
	}
	var blocks []contentBlock
	if json.Unmarshal(raw, &blocks) == nil {
		var sb strings.Builder
		allText := true
		for _, b := range blocks {
			if b.Type != "text" {
				allText = false
				break
			}
			sb.WriteString(b.Text)
		}
		if allText {
			return sb.String()
		}
	}
	return jsonValue(raw)
}

// jsonValue decodes JSON text into the value tree that the span encoder
// takes. Absent text is an empty object; text that is not valid JSON is
// kept as a string.
func jsonValue(raw json.RawMessage) any {
	if len(raw) == 0 {
		return map[string]any{}
	}
	v, err := jcs.Parse(raw)
	if err != nil {
		return string(raw)
	}
	return v
}
