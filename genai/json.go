package genai

import (
	"encoding/json"

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
