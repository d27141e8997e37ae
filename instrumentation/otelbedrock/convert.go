package otelbedrock

import (
	"encoding/base64"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/jcs"
)

// converseFields are the request fields that Converse and ConverseStream
// share.
type converseFields struct {
	modelID    *string
	messages   []types.Message
	system     []types.SystemContentBlock
	inference  *types.InferenceConfiguration
	tools      *types.ToolConfiguration
	additional document.Interface
}

// request converts the typed input of Converse or ConverseStream.
func (f converseFields) request(req *genai.Request) {
	if f.modelID != nil {
		req.Model = *f.modelID
	}
	if c := f.inference; c != nil {
		if c.MaxTokens != nil {
			n := int64(*c.MaxTokens)
			req.MaxTokens = &n
		}
		req.Temperature = float32Value(c.Temperature)
		req.TopP = float32Value(c.TopP)
		req.StopSequences = c.StopSequences
	}
	req.TopK = topK(f.additional)
	for _, block := range f.system {
		if p := systemPart(block); p != nil {
			req.SystemInstructions = append(req.SystemInstructions, p)
		}
	}
	for _, m := range f.messages {
		req.Messages = append(req.Messages, message(m))
	}
	if f.tools != nil {
		if defs := toolDefinitions(f.tools.Tools); len(defs) > 0 {
			req.ToolDefinitions = defs
		}
	}
}

func converseInput(in *bedrockruntime.ConverseInput) converseFields {
	return converseFields{in.ModelId, in.Messages, in.System, in.InferenceConfig, in.ToolConfig, in.AdditionalModelRequestFields}
}

func converseStreamInput(in *bedrockruntime.ConverseStreamInput) converseFields {
	return converseFields{in.ModelId, in.Messages, in.System, in.InferenceConfig, in.ToolConfig, in.AdditionalModelRequestFields}
}

// float32Value converts a float32 parameter by its shortest decimal form,
// so that a temperature of 0.3 is recorded as 0.3 and not as
// 0.30000001192092896.
func float32Value(f *float32) *float64 {
	if f == nil {
		return nil
	}
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(*f), 'g', -1, 32), 64)
	if err != nil {
		return nil
	}
	return &v
}

// topK returns the top_k field of the model-specific request fields, which
// Anthropic models on Bedrock take there because inferenceConfig has none.
func topK(additional document.Interface) *float64 {
	fields, ok := documentValue(additional).(map[string]any)
	if !ok {
		return nil
	}
	switch v := fields["top_k"].(type) {
	case int64:
		f := float64(v)
		return &f
	case float64:
		return &v
	}
	return nil
}

// message converts a Converse message. A user message whose blocks are all
// toolResult blocks is the conventions' "tool" message.
func message(m types.Message) genai.Message {
	msg := genai.Message{Role: string(m.Role)}
	results := 0
	for _, block := range m.Content {
		if _, ok := block.(*types.ContentBlockMemberToolResult); ok {
			results++
		}
		if p := contentPart(block); p != nil {
			msg.Parts = append(msg.Parts, p)
		}
	}
	if msg.Role == string(types.ConversationRoleUser) && results > 0 && results == len(m.Content) {
		msg.Role = "tool"
	}
	return msg
}

// contentPart converts one content block, or returns nil for a block that
// carries no content, such as a cachePoint.
//
// NOTE: citationsContent, searchResult, audio, toolAddition and toolRemoval
// blocks are not recorded.
func contentPart(block types.ContentBlock) genai.Part {
	switch b := block.(type) {
	case *types.ContentBlockMemberText:
		return genai.TextPart(b.Value)
	case *types.ContentBlockMemberToolUse:
		return genai.ToolCallPart(deref(b.Value.ToolUseId), deref(b.Value.Name), documentValue(b.Value.Input))
	case *types.ContentBlockMemberToolResult:
		p := genai.ToolCallResponsePart(deref(b.Value.ToolUseId), toolResult(b.Value.Content))
		if b.Value.Status != "" {
			p["status"] = string(b.Value.Status)
		}
		return p
	case *types.ContentBlockMemberReasoningContent:
		switch r := b.Value.(type) {
		case *types.ReasoningContentBlockMemberReasoningText:
			return genai.ReasoningPart(deref(r.Value.Text))
		case *types.ReasoningContentBlockMemberRedactedContent:
			// Redacted reasoning is encrypted by the provider; its bytes
			// are kept as base64 so that the record still covers them.
			return genai.Part{"type": "reasoning", "redacted": true, "content": base64.StdEncoding.EncodeToString(r.Value)}
		}
	case *types.ContentBlockMemberImage:
		return mediaPart("image", "image/"+string(b.Value.Format), b.Value.Source)
	case *types.ContentBlockMemberVideo:
		return mediaPart("video", "video/"+string(b.Value.Format), b.Value.Source)
	case *types.ContentBlockMemberDocument:
		p := genai.Part{"type": "document", "format": string(b.Value.Format)}
		if b.Value.Name != nil {
			p["name"] = *b.Value.Name
		}
		switch s := b.Value.Source.(type) {
		case *types.DocumentSourceMemberBytes:
			p["content"] = base64.StdEncoding.EncodeToString(s.Value)
		case *types.DocumentSourceMemberText:
			p["content"] = s.Value
		case *types.DocumentSourceMemberS3Location:
			p["uri"] = deref(s.Value.Uri)
		}
		return p
	case *types.ContentBlockMemberGuardContent:
		if t, ok := b.Value.(*types.GuardrailConverseContentBlockMemberText); ok {
			return genai.TextPart(deref(t.Value.Text))
		}
	}
	return nil
}

// mediaPart converts an image or video source: bytes as a blob part with
// base64 content, an S3 location as a uri part.
func mediaPart(modality, mimeType string, source any) genai.Part {
	switch s := source.(type) {
	case *types.ImageSourceMemberBytes:
		return genai.Part{"type": "blob", "modality": modality, "mime_type": mimeType, "content": base64.StdEncoding.EncodeToString(s.Value)}
	case *types.VideoSourceMemberBytes:
		return genai.Part{"type": "blob", "modality": modality, "mime_type": mimeType, "content": base64.StdEncoding.EncodeToString(s.Value)}
	case *types.ImageSourceMemberS3Location:
		return genai.Part{"type": "uri", "modality": modality, "mime_type": mimeType, "uri": deref(s.Value.Uri)}
	case *types.VideoSourceMemberS3Location:
		return genai.Part{"type": "uri", "modality": modality, "mime_type": mimeType, "uri": deref(s.Value.Uri)}
	}
	return genai.Part{"type": "blob", "modality": modality, "mime_type": mimeType}
}

// toolResult returns the content of a toolResult block: the text or JSON
// value of a single block, or a list of the blocks' values.
func toolResult(blocks []types.ToolResultContentBlock) any {
	values := make([]any, 0, len(blocks))
	for _, block := range blocks {
		switch b := block.(type) {
		case *types.ToolResultContentBlockMemberText:
			values = append(values, b.Value)
		case *types.ToolResultContentBlockMemberJson:
			values = append(values, documentValue(b.Value))
		case *types.ToolResultContentBlockMemberImage:
			values = append(values, map[string]any(mediaPart("image", "image/"+string(b.Value.Format), b.Value.Source)))
		case *types.ToolResultContentBlockMemberDocument:
			values = append(values, map[string]any(contentPart(&types.ContentBlockMemberDocument{Value: b.Value})))
		case *types.ToolResultContentBlockMemberVideo:
			values = append(values, map[string]any(mediaPart("video", "video/"+string(b.Value.Format), b.Value.Source)))
		}
	}
	if len(values) == 1 {
		return values[0]
	}
	return values
}

func systemPart(block types.SystemContentBlock) genai.Part {
	switch b := block.(type) {
	case *types.SystemContentBlockMemberText:
		return genai.TextPart(b.Value)
	case *types.SystemContentBlockMemberGuardContent:
		if t, ok := b.Value.(*types.GuardrailConverseContentBlockMemberText); ok {
			return genai.TextPart(deref(t.Value.Text))
		}
	}
	return nil
}

// toolDefinitions renders toolConfig.tools in the flat form of
// gen_ai.tool.definitions.
func toolDefinitions(tools []types.Tool) []any {
	var defs []any
	for _, tool := range tools {
		switch t := tool.(type) {
		case *types.ToolMemberToolSpec:
			def := map[string]any{"type": "function", "name": deref(t.Value.Name)}
			if t.Value.Description != nil {
				def["description"] = *t.Value.Description
			}
			if s, ok := t.Value.InputSchema.(*types.ToolInputSchemaMemberJson); ok {
				def["parameters"] = documentValue(s.Value)
			}
			defs = append(defs, def)
		case *types.ToolMemberSystemTool:
			defs = append(defs, map[string]any{"type": "system_tool", "name": deref(t.Value.Name)})
		}
	}
	return defs
}

// usage converts Bedrock's token usage. Bedrock's inputTokens counts only
// the input that was neither read from nor written to the prompt cache;
// the cache counts come apart. gen_ai.usage.input_tokens includes both, as
// the conventions require, so input is the sum of the three.
func usage(u *types.TokenUsage) *genai.Usage {
	if u == nil {
		return nil
	}
	out := &genai.Usage{
		InputTokens:  int64(deref(u.InputTokens)),
		OutputTokens: int64(deref(u.OutputTokens)),
	}
	if u.CacheReadInputTokens != nil {
		n := int64(*u.CacheReadInputTokens)
		out.CacheReadInputTokens = &n
		out.InputTokens += n
	}
	if u.CacheWriteInputTokens != nil {
		n := int64(*u.CacheWriteInputTokens)
		out.CacheCreationInputTokens = &n
		out.InputTokens += n
	}
	return out
}

// finishReason maps a Bedrock stopReason to the value of an output
// message's finish_reason in the GenAI conventions.
func finishReason(reason types.StopReason) string {
	switch reason {
	case types.StopReasonEndTurn, types.StopReasonStopSequence:
		return "stop"
	case types.StopReasonMaxTokens, types.StopReasonModelContextWindowExceeded:
		return "length"
	case types.StopReasonToolUse:
		return "tool_call"
	case types.StopReasonGuardrailIntervened, types.StopReasonContentFiltered:
		return "content_filter"
	case types.StopReasonMalformedModelOutput, types.StopReasonMalformedToolUse:
		return "error"
	}
	return string(reason)
}

// converseResponse converts the typed output of Converse.
func converseResponse(out *bedrockruntime.ConverseOutput) genai.Response {
	resp := genai.Response{Usage: usage(out.Usage)}
	if out.StopReason != "" {
		resp.FinishReasons = []string{string(out.StopReason)}
	}
	if m, ok := out.Output.(*types.ConverseOutputMemberMessage); ok {
		msg := message(m.Value)
		msg.FinishReason = finishReason(out.StopReason)
		resp.Messages = []genai.Message{msg}
	}
	return resp
}

// documentValue converts a document to the value tree that the span
// encoder takes, through its JSON form. A nil document is an empty object.
func documentValue(doc document.Interface) any {
	if doc == nil {
		return map[string]any{}
	}
	data, err := doc.MarshalSmithyDocument()
	if err != nil {
		return map[string]any{}
	}
	v, err := jcs.Parse(data)
	if err != nil {
		return string(data)
	}
	return v
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
