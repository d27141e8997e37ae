package otlp // import "github.com/bijotel/bijotel-go/otlp"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/pdata/ptrace"

	bijotel "github.com/bijotel/bijotel-go"
)

// DecodeJSON decodes data, one OTLP/JSON ExportTraceServiceRequest, and
// converts its spans as [Spans] does. Ids must be hex strings, as OTLP/JSON
// requires, in upper or lower case. Field names may be lowerCamelCase or
// snake_case, and unknown fields are ignored.
//
// Every error that data causes wraps [ErrInvalid]. That includes JSON syntax
// errors, trailing data after the request, spans under the older key
// instrumentationLibrarySpans and an id in base64 or of the wrong length,
// whose error names the field and its position.
func DecodeJSON(data []byte) ([]bijotel.Span, error) {
	spans, err := decodeJSON(data)
	if err != nil {
		return nil, invalidf("%w", err)
	}
	return spans, nil
}

// decodeJSON decodes data as DecodeJSON does, but its errors do not wrap
// ErrInvalid, so that callers can add their own context first.
func decodeJSON(data []byte) ([]bijotel.Span, error) {
	// pdata's JSON decoder stops after the first value, so without this
	// check it would accept trailing data.
	if !json.Valid(data) {
		_, err := findSyntaxError(data)
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if trimmed := bytes.TrimSpace(data); trimmed[0] != '{' {
		return nil, fmt.Errorf("a request must be a JSON object, got %s", quoteRaw(trimmed))
	}

	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(data)
	if err != nil {
		// pdata's id errors do not name the field, so look for the
		// invalid id before falling back to pdata's message.
		if idErr := findJSONIDError(data); idErr != nil {
			return nil, idErr
		}
		return nil, err
	}
	if err := findLegacyJSONSpans(data); err != nil {
		return nil, err
	}
	return convertTraces(td)
}

// legacyScopeSpansKeys are the OTLP/JSON keys that ResourceSpans had for its
// scope spans before OTLP renamed them scopeSpans. pdata v1.71.0 ignores
// them, so a request that uses them would lose its spans without an error.
var legacyScopeSpansKeys = []string{"instrumentationLibrarySpans", "instrumentation_library_spans"}

// findLegacyJSONSpans returns an error naming the first ResourceSpans in
// data that has spans under one of legacyScopeSpansKeys, or nil if none has.
func findLegacyJSONSpans(data []byte) error {
	found := false
	for _, key := range legacyScopeSpansKeys {
		found = found || bytes.Contains(data, []byte(key))
	}
	if !found {
		// Requests without these keys skip the second parse.
		return nil
	}

	var request jsonObject
	if json.Unmarshal(data, &request) != nil {
		return nil
	}
	for rsKey, resourceSpans := range jsonArrays(request, "resourceSpans", "resource_spans") {
		for ri, rs := range resourceSpans {
			for key, scopeSpans := range jsonArrays(rs, legacyScopeSpansKeys...) {
				if len(scopeSpans) > 0 {
					return fmt.Errorf("%s[%d].%s is the field that OTLP renamed scopeSpans and is not supported: "+
						"rename it to scopeSpans, and instrumentationLibrary inside it to scope", rsKey, ri, key)
				}
			}
		}
	}
	return nil
}

// findSyntaxError returns the byte offset and the error that encoding/json
// reports for data, which json.Valid rejected.
func findSyntaxError(data []byte) (int64, error) {
	var raw json.RawMessage
	err := json.Unmarshal(data, &raw)
	if syntaxErr, ok := errors.AsType[*json.SyntaxError](err); ok {
		return syntaxErr.Offset, fmt.Errorf("%w at byte offset %d", syntaxErr, syntaxErr.Offset)
	}
	if err == nil {
		// json.Valid and json.Unmarshal check the same grammar, so this
		// branch is not expected to run.
		return 0, errors.New("rejected by json.Valid")
	}
	return 0, err
}

// DecodeProto decodes data, one binary protobuf ExportTraceServiceRequest,
// and converts its spans as [Spans] does.
//
// Every error that data causes wraps [ErrInvalid]. An id field of the wrong
// length or wire type gets an error that names the field and its position.
func DecodeProto(data []byte) ([]bijotel.Span, error) {
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(migrateDeprecatedScopeSpans(data))
	if err != nil {
		// pdata's id errors do not name the field or its position.
		if idErr := findProtoIDError(data); idErr != nil {
			return nil, invalidf("%w", idErr)
		}
		return nil, invalidf("malformed protobuf: %w", err)
	}
	return Spans(td)
}
