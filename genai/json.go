package genai

import (
	"encoding/json"
	"strings"

	"github.com/bijotel/bijotel-go/jcs"
)

// marshalJSON renders v as canonical JSON, falling back to encoding/json
// for values of Go types that the canonical encoder does not take.
func marshalJSON(v any) (string, error) {
	if b, err := jcs.Marshal(v); err == nil {
		return string(b), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// systemParts extracts the parts array from the JSON of a single system
// message rendered by encodeMessages.
func systemParts(messageJSON string) string {
	var msgs []struct {
		Parts json.RawMessage `json:"parts"`
	}
	if err := json.Unmarshal([]byte(messageJSON), &msgs); err != nil || len(msgs) != 1 {
		return messageJSON
	}
	return strings.TrimSpace(string(msgs[0].Parts))
}
