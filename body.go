package bijotel

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bijotel/bijotel-go/jcs"
)

// jsonValuedAttributes are sealed as parsed JSON when their string value is
// valid JSON inside the RFC 8785 domain, as Python BIJOTEL does.
var jsonValuedAttributes = [...]string{
	"gen_ai.input.messages",
	"gen_ai.output.messages",
	"gen_ai.tool.definitions",
}

// semanticExcludedPrefixes are the attribute key prefixes left out of the
// semantic body: everything the model produced or the provider reported
// about the response, so that calls with identical input share a hash.
var semanticExcludedPrefixes = [...]string{
	"gen_ai.output.",
	"gen_ai.response.",
	"gen_ai.usage.",
}

// Tag keys of the lossless encodings for values outside the RFC 8785
// domain. Each such value seals as an object with exactly one of these keys.
const (
	tagInt          = "bijotel.int"           // integer beyond ±(2^53−1), decimal string
	tagFloat        = "bijotel.float"         // "NaN", "Infinity" or "-Infinity"
	tagBytes        = "bijotel.bytes"         // byte array value, standard base64
	tagInvalidUTF8  = "bijotel.string_base64" // string that is not UTF-8, standard base64
	tagOther        = "bijotel.go_value"      // value of an unsupported Go type, fmt %v
	keyInvalidUTF8  = "bijotel.key_base64:"   // prefix of a map key that is not UTF-8
	maxSafeInteger  = 1<<53 - 1
	minSafeInteger  = -maxSafeInteger
	defaultKindName = "INTERNAL"
)

// SpanBody is the sealed form of a span: its canonical body and the hash that
// groups calls with identical input.
type SpanBody struct {
	// Canonical is the RFC 8785 JSON stored in canonical_body.
	Canonical []byte
	// SemanticHash is the semantic_body_hash column: hex SHA-256 of the
	// canonical JSON of name, kind and the input attributes.
	SemanticHash string
}

// EncodeSpan builds the canonical body of s as described in
// docs/chain-format.md. It never rejects a span for its values: values that
// RFC 8785 cannot represent are sealed in a tagged, lossless form. It is safe
// for concurrent use.
func EncodeSpan(s *Span) (SpanBody, error) {
	body := v1Body(s)
	// The body and the semantic hash share the attribute values: encode each
	// once.
	encoded, err := encodeValues(body["attributes"].(map[string]any))
	if err != nil {
		return SpanBody{}, fmt.Errorf("encode span %q: %w", s.Name, err)
	}
	body["attributes"] = encoded

	// Keys that seal the row's id columns and name the emitter of the span.
	body["trace_id"] = s.TraceID
	body["span_id"] = s.SpanID
	body["parent_span_id"] = nullIfEmpty(s.ParentSpanID)
	body["resource"] = map[string]any{
		"attributes": attributeMap(s.Resource.Attributes, false),
		"schema_url": sanitizeString(s.Resource.SchemaURL),
	}
	body["scope"] = map[string]any{
		"name":       sanitizeString(s.Scope.Name),
		"version":    sanitizeString(s.Scope.Version),
		"schema_url": sanitizeString(s.Scope.SchemaURL),
		"attributes": attributeMap(s.Scope.Attributes, false),
	}
	body["events"] = eventList(s.Events)
	body["links"] = linkList(s.Links)
	if s.DroppedAttributes != 0 {
		body["dropped_attributes_count"] = int64(s.DroppedAttributes)
	}
	if s.DroppedEvents != 0 {
		body["dropped_events_count"] = int64(s.DroppedEvents)
	}
	if s.DroppedLinks != 0 {
		body["dropped_links_count"] = int64(s.DroppedLinks)
	}

	canonical, err := jcs.Marshal(body)
	if err != nil {
		return SpanBody{}, fmt.Errorf("encode span %q: %w", s.Name, err)
	}
	semantic, err := semanticHash(body)
	if err != nil {
		return SpanBody{}, fmt.Errorf("encode span %q: %w", s.Name, err)
	}
	return SpanBody{Canonical: canonical, SemanticHash: semantic}, nil
}

// EncodeSpanV1 builds only the seven-key body that Python BIJOTEL seals for
// s. Sealing uses EncodeSpan; this form exists to compare bodies with other
// implementations of the v1 format.
func EncodeSpanV1(s *Span) ([]byte, error) {
	return jcs.Marshal(v1Body(s))
}

// v1Body returns the seven keys of the v1 format with Python BIJOTEL's
// meaning.
func v1Body(s *Span) map[string]any {
	kind := s.Kind
	if kind == "" {
		kind = defaultKindName
	}
	status := s.StatusCode
	if status == "" {
		status = "UNSET"
	}
	var description any
	if s.StatusDescription != "" {
		description = sanitizeString(s.StatusDescription)
	}
	return map[string]any{
		"name":               sanitizeString(s.Name),
		"kind":               kind,
		"attributes":         attributeMap(s.Attributes, true),
		"status_code":        status,
		"status_description": description,
		"start_time_ns":      strconv.FormatUint(s.StartTimeUnixNano, 10),
		"end_time_ns":        strconv.FormatUint(s.EndTimeUnixNano, 10),
	}
}

// encodeValues returns m with each value replaced by its canonical JSON.
func encodeValues(m map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		b, err := jcs.Append(nil, v)
		if err != nil {
			return nil, err
		}
		out[k] = jcs.Raw(b)
	}
	return out, nil
}

// semanticHash hashes the name, kind and input attributes of a v1 body.
func semanticHash(body map[string]any) (string, error) {
	attrs := body["attributes"].(map[string]any)
	input := make(map[string]any, len(attrs))
	for k, v := range attrs {
		if !hasAnyPrefix(k, semanticExcludedPrefixes[:]) {
			input[k] = v
		}
	}
	canonical, err := jcs.Marshal(map[string]any{"name": body["name"], "kind": body["kind"], "attributes": input})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:]), nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// attributeMap converts attributes to a JSON object. A later duplicate key
// replaces an earlier one, as in a Python dict built from the same pairs.
func attributeMap(attrs []Attribute, parseJSON bool) map[string]any {
	m := make(map[string]any, len(attrs))
	for _, a := range attrs {
		if parseJSON {
			if s, ok := a.Value.(string); ok && isJSONValued(a.Key) {
				if v, err := jcs.Parse([]byte(s)); err == nil {
					m[sanitizeKey(a.Key)] = v
					continue
				}
			}
		}
		m[sanitizeKey(a.Key)] = sanitizeValue(a.Value)
	}
	return m
}

func isJSONValued(key string) bool {
	for _, k := range jsonValuedAttributes {
		if key == k {
			return true
		}
	}
	return false
}

func eventList(events []Event) []any {
	out := make([]any, 0, len(events))
	for _, e := range events {
		ev := map[string]any{
			"name":       sanitizeString(e.Name),
			"time_ns":    strconv.FormatUint(e.TimeUnixNano, 10),
			"attributes": attributeMap(e.Attributes, false),
		}
		if e.DroppedAttributes != 0 {
			ev["dropped_attributes_count"] = int64(e.DroppedAttributes)
		}
		out = append(out, ev)
	}
	return out
}

func linkList(links []Link) []any {
	out := make([]any, 0, len(links))
	for _, l := range links {
		lk := map[string]any{
			"trace_id":    l.TraceID,
			"span_id":     l.SpanID,
			"trace_state": sanitizeString(l.TraceState),
			"attributes":  attributeMap(l.Attributes, false),
		}
		if l.DroppedAttributes != 0 {
			lk["dropped_attributes_count"] = int64(l.DroppedAttributes)
		}
		out = append(out, lk)
	}
	return out
}

func sanitizeKey(k string) string {
	if utf8.ValidString(k) {
		return k
	}
	return keyInvalidUTF8 + base64.StdEncoding.EncodeToString([]byte(k))
}

func sanitizeString(s string) any {
	if utf8.ValidString(s) {
		return s
	}
	return map[string]any{tagInvalidUTF8: base64.StdEncoding.EncodeToString([]byte(s))}
}

func sanitizeInt(v int64) any {
	if v < minSafeInteger || v > maxSafeInteger {
		return map[string]any{tagInt: strconv.FormatInt(v, 10)}
	}
	return v
}

func sanitizeUint(v uint64) any {
	if v > maxSafeInteger {
		return map[string]any{tagInt: strconv.FormatUint(v, 10)}
	}
	return int64(v)
}

func sanitizeFloat(v float64) any {
	switch {
	case math.IsNaN(v):
		return map[string]any{tagFloat: "NaN"}
	case math.IsInf(v, 1):
		return map[string]any{tagFloat: "Infinity"}
	case math.IsInf(v, -1):
		return map[string]any{tagFloat: "-Infinity"}
	}
	return v
}

// sanitizeValue maps an attribute value to a value inside the RFC 8785
// domain, tagging whatever falls outside it.
func sanitizeValue(v any) any {
	switch v := v.(type) {
	case nil:
		return nil
	case bool:
		return v
	case string:
		return sanitizeString(v)
	case int64:
		return sanitizeInt(v)
	case int:
		return sanitizeInt(int64(v))
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint:
		return sanitizeUint(uint64(v))
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint64:
		return sanitizeUint(v)
	case float64:
		return sanitizeFloat(v)
	case float32:
		return sanitizeFloat(float64(v))
	case []byte:
		return map[string]any{tagBytes: base64.StdEncoding.EncodeToString(v)}
	case []bool:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = e
		}
		return out
	case []int64:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = sanitizeInt(e)
		}
		return out
	case []float64:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = sanitizeFloat(e)
		}
		return out
	case []string:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = sanitizeString(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = sanitizeValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[sanitizeKey(k)] = sanitizeValue(e)
		}
		return out
	default:
		// A value of another Go type seals as its encoding/json form when it
		// has one, so structs and typed maps in event fields keep their shape.
		if text, err := json.Marshal(v); err == nil {
			if parsed, err := jcs.Parse(text); err == nil {
				return parsed
			}
		}
		return map[string]any{tagOther: sanitizeString(fmt.Sprintf("%v", v))}
	}
}
