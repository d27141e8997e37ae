package genai

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"unicode/utf8"

	"github.com/bijotel/bijotel-go/jcs"
)

// Message is one message in the GenAI parts format: a role, its parts and,
// for output messages, the finish reason.
type Message struct {
	Role  string
	Parts []Part
	// FinishReason is set on output messages only.
	FinishReason string
}

// Part is one part of a message, as a JSON object. Build parts with
// TextPart, ToolCallPart, ToolCallResponsePart or ReasoningPart; other part
// types can be built as plain maps with a "type" key.
type Part map[string]any

// TextPart returns a text part.
func TextPart(text string) Part {
	return Part{"type": "text", "content": text}
}

// ReasoningPart returns a reasoning (thinking) part.
func ReasoningPart(text string) Part {
	return Part{"type": "reasoning", "content": text}
}

// ToolCallPart returns a tool call part. arguments is the decoded JSON
// arguments; a call without parameters gets an empty object, never null.
// When the model's argument text is not valid JSON (for example a stream cut
// off at max_tokens), pass it as a string: it is kept as it arrived.
func ToolCallPart(id, name string, arguments any) Part {
	if arguments == nil {
		arguments = map[string]any{}
	}
	return Part{"type": "tool_call", "id": id, "name": name, "arguments": arguments}
}

// ToolCallArguments decodes the argument text of a tool call. Empty text is
// an empty object; text that is not valid JSON is returned unchanged as a
// string, so a partial call is sealed as it arrived and never as {}.
func ToolCallArguments(text string) any {
	if text == "" {
		return map[string]any{}
	}
	v, err := jcs.Parse([]byte(text))
	if err != nil {
		return text
	}
	return v
}

// ToolCallResponsePart returns the part that carries a tool's result back to
// the model.
func ToolCallResponsePart(id string, response any) Part {
	return Part{"type": "tool_call_response", "id": id, "response": response}
}

// HashText returns the hex SHA-256 of text as UTF-8, the value HashContent
// records for a text or reasoning part.
func HashText(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// HashValue returns the hex SHA-256 of the RFC 8785 canonical JSON of v, the
// value HashContent records for structured content such as tool arguments.
// A string is hashed as its text, like HashText.
func HashValue(v any) string {
	if s, ok := v.(string); ok {
		return HashText(s)
	}
	b, err := jcs.Marshal(v)
	if err != nil {
		// Values outside the canonical JSON domain fall back to their
		// encoding/json form, which is still deterministic for one input.
		b, _ = json.Marshal(v)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// contentKeys are the part keys that hold content, by the policy's view.
var contentKeys = [...]string{"content", "arguments", "response", "result"}

// encodeMessages renders messages as the JSON text of a messages attribute
// under the config's content policy. ok is false under OmitContent or when
// there are no messages.
func (c *Config) encodeMessages(msgs []Message) (string, bool) {
	if c.mode == OmitContent || len(msgs) == 0 {
		return "", false
	}
	out := make([]any, 0, len(msgs))
	for _, m := range msgs {
		obj := map[string]any{"role": m.Role, "parts": c.policyParts(m.Parts)}
		if m.FinishReason != "" {
			obj["finish_reason"] = m.FinishReason
		}
		out = append(out, obj)
	}
	s, err := marshalJSON(out)
	return s, err == nil
}

// encodeParts renders parts, such as system instructions, as the JSON text
// of an attribute under the config's content policy. ok is false under
// OmitContent or when there are no parts.
func (c *Config) encodeParts(parts []Part) (string, bool) {
	if c.mode == OmitContent || len(parts) == 0 {
		return "", false
	}
	s, err := marshalJSON(c.policyParts(parts))
	return s, err == nil
}

func (c *Config) policyParts(parts []Part) []any {
	out := make([]any, 0, len(parts))
	for _, p := range parts {
		out = append(out, c.applyPolicy(p))
	}
	return out
}

// applyPolicy returns a copy of p with its content captured, cut to the
// size cap, or replaced by hashes.
func (c *Config) applyPolicy(p Part) map[string]any {
	out := make(map[string]any, len(p)+2)
	for k, v := range p {
		out[k] = v
	}
	for _, k := range contentKeys {
		v, ok := out[k]
		if !ok {
			continue
		}
		switch c.mode {
		case HashContent:
			delete(out, k)
			out[k+"_sha256"] = HashValue(v)
		case CaptureContent:
			if s, isText := v.(string); isText && c.maxContentBytes > 0 && len(s) > c.maxContentBytes {
				out[k] = truncateUTF8(s, c.maxContentBytes)
				out["truncated"] = true
				out["original_length"] = int64(len(s))
				out[k+"_sha256"] = HashText(s)
			}
		}
	}
	return out
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
