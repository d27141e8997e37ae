package otelgemini

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/jcs"
)

// generateContentRequest is the part of a GenerateContentRequest body that
// the span records. Field names are the camelCase JSON names that the Go
// SDK sends.
//
// NOTE: The REST API also accepts snake_case names such as
// generation_config. A request written that way by hand is recorded
// without those fields.
type generateContentRequest struct {
	Contents          []content                    `json:"contents"`
	SystemInstruction *content                     `json:"systemInstruction"`
	Tools             []map[string]json.RawMessage `json:"tools"`
	GenerationConfig  *generationConfig            `json:"generationConfig"`
}

type generationConfig struct {
	Temperature        *float64        `json:"temperature"`
	TopP               *float64        `json:"topP"`
	TopK               *float64        `json:"topK"`
	CandidateCount     *int64          `json:"candidateCount"`
	MaxOutputTokens    *int64          `json:"maxOutputTokens"`
	StopSequences      []string        `json:"stopSequences"`
	PresencePenalty    *float64        `json:"presencePenalty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty"`
	Seed               *int64          `json:"seed"`
	ResponseMimeType   string          `json:"responseMimeType"`
	ResponseSchema     json.RawMessage `json:"responseSchema"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema"`
	ResponseModalities []string        `json:"responseModalities"`
}

// content is a Content object: a role and its parts.
type content struct {
	Role  string `json:"role"`
	Parts []part `json:"parts"`
}

// part is a Part object. Exactly one of the data fields is set; Thought
// marks a text part as the model's reasoning.
type part struct {
	Text             *string         `json:"text"`
	Thought          bool            `json:"thought"`
	InlineData       *blob           `json:"inlineData"`
	FileData         *fileData       `json:"fileData"`
	FunctionCall     *functionCall   `json:"functionCall"`
	FunctionResponse *functionResult `json:"functionResponse"`
	ExecutableCode   json.RawMessage `json:"executableCode"`
	CodeResult       json.RawMessage `json:"codeExecutionResult"`
}

type blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type fileData struct {
	MimeType string `json:"mimeType"`
	FileURI  string `json:"fileUri"`
}

type functionCall struct {
	ID   string          `json:"id"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type functionResult struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

// parseRequest fills the request fields of a generateContent body and
// returns the gen_ai.output.type it requests, or "". A body that is not
// valid JSON leaves the fields empty.
func parseRequest(data []byte, req *genai.Request) string {
	var r generateContentRequest
	if json.Unmarshal(data, &r) != nil {
		return ""
	}
	if c := r.GenerationConfig; c != nil {
		req.Temperature = c.Temperature
		req.TopP = c.TopP
		req.TopK = c.TopK
		req.ChoiceCount = c.CandidateCount
		req.MaxTokens = c.MaxOutputTokens
		req.StopSequences = c.StopSequences
		req.PresencePenalty = c.PresencePenalty
		req.FrequencyPenalty = c.FrequencyPenalty
		req.Seed = c.Seed
	}
	if r.SystemInstruction != nil {
		req.SystemInstructions = convertParts(r.SystemInstruction.Parts)
	}
	for _, c := range r.Contents {
		req.Messages = append(req.Messages, inputMessage(c))
	}
	if defs := toolDefinitions(r.Tools); len(defs) > 0 {
		req.ToolDefinitions = defs
	}
	return outputType(r.GenerationConfig)
}

// outputType returns the gen_ai.output.type that the generation config
// requests, or "" when it requests none.
func outputType(c *generationConfig) string {
	if c == nil {
		return ""
	}
	switch {
	case c.ResponseMimeType == "application/json", len(c.ResponseSchema) > 0, len(c.ResponseJSONSchema) > 0:
		return "json"
	case len(c.ResponseModalities) == 1 && c.ResponseModalities[0] == "IMAGE":
		return "image"
	case len(c.ResponseModalities) == 1 && c.ResponseModalities[0] == "AUDIO":
		return "speech"
	case strings.HasPrefix(c.ResponseMimeType, "text/"):
		return "text"
	}
	return ""
}

// inputMessage converts a Content of the request. Gemini's "model" role is
// the conventions' "assistant"; a content that only returns function
// results is a "tool" message.
func inputMessage(c content) genai.Message {
	msg := genai.Message{Role: role(c.Role), Parts: convertParts(c.Parts)}
	if msg.Role == "user" && len(c.Parts) > 0 {
		allResults := true
		for _, p := range c.Parts {
			if p.FunctionResponse == nil {
				allResults = false
				break
			}
		}
		if allResults {
			msg.Role = "tool"
		}
	}
	return msg
}

// role maps a Gemini role to the GenAI conventions' role. A content without
// a role is the user's, as Gemini reads it.
func role(r string) string {
	switch r {
	case "", "user":
		return "user"
	case "model":
		return "assistant"
	case "function":
		return "tool"
	}
	return r
}

// convertParts converts Gemini parts to GenAI parts. Parts with a data
// field this package does not know are skipped.
func convertParts(parts []part) []genai.Part {
	out := make([]genai.Part, 0, len(parts))
	for _, p := range parts {
		if gp := convertPart(p); gp != nil {
			out = append(out, gp)
		}
	}
	return out
}

func convertPart(p part) genai.Part {
	switch {
	case p.Text != nil && p.Thought:
		return genai.ReasoningPart(*p.Text)
	case p.Text != nil:
		return genai.TextPart(*p.Text)
	case p.FunctionCall != nil:
		return genai.ToolCallPart(p.FunctionCall.ID, p.FunctionCall.Name, jsonValue(p.FunctionCall.Args))
	case p.FunctionResponse != nil:
		gp := genai.ToolCallResponsePart(p.FunctionResponse.ID, jsonValue(p.FunctionResponse.Response))
		// Gemini matches results to calls by name when the call had no id.
		gp["name"] = p.FunctionResponse.Name
		return gp
	case p.InlineData != nil:
		gp := genai.Part{"type": "blob", "mime_type": p.InlineData.MimeType, "content": p.InlineData.Data}
		if m := modality(p.InlineData.MimeType); m != "" {
			gp["modality"] = m
		}
		return gp
	case p.FileData != nil:
		gp := genai.Part{"type": "uri", "mime_type": p.FileData.MimeType, "uri": p.FileData.FileURI}
		if m := modality(p.FileData.MimeType); m != "" {
			gp["modality"] = m
		}
		return gp
	case len(p.ExecutableCode) > 0:
		return genai.Part{"type": "executable_code", "content": jsonValue(p.ExecutableCode)}
	case len(p.CodeResult) > 0:
		return genai.Part{"type": "code_execution_result", "content": jsonValue(p.CodeResult)}
	}
	return nil
}

// modality returns the GenAI modality of a MIME type, or "" when it has
// none of image, video and audio.
func modality(mimeType string) string {
	kind, _, _ := strings.Cut(mimeType, "/")
	switch kind {
	case "image", "video", "audio":
		return kind
	}
	return ""
}

// toolDefinitions renders the request's tools in the flat form of
// gen_ai.tool.definitions. Each function declaration becomes one "function"
// entry; a built-in tool such as googleSearch becomes an entry whose type is
// its field name.
func toolDefinitions(tools []map[string]json.RawMessage) []any {
	var defs []any
	for _, t := range tools {
		for _, key := range slices.Sorted(maps.Keys(t)) {
			raw := t[key]
			if key != "functionDeclarations" {
				defs = append(defs, map[string]any{"type": key})
				continue
			}
			var decls []struct {
				Name                 string          `json:"name"`
				Description          string          `json:"description"`
				Parameters           json.RawMessage `json:"parameters"`
				ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema"`
			}
			json.Unmarshal(raw, &decls)
			for _, d := range decls {
				def := map[string]any{"type": "function", "name": d.Name}
				if d.Description != "" {
					def["description"] = d.Description
				}
				if len(d.Parameters) > 0 {
					def["parameters"] = jsonValue(d.Parameters)
				} else if len(d.ParametersJSONSchema) > 0 {
					def["parameters"] = jsonValue(d.ParametersJSONSchema)
				}
				defs = append(defs, def)
			}
		}
	}
	return defs
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
