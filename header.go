package bijotel

import (
	"bytes"
	"encoding/json"
)

// spanHeader holds the body keys that the columns of a span entry repeat.
type spanHeader struct {
	Name        string
	Kind        string
	EndTimeNS   string
	TraceID     *string
	SpanID      *string
	hasV1Keys   int
	description bool
}

// v1 key bits, for telling a span body from a non-span body.
const (
	hasName = 1 << iota
	hasKind
	hasAttributes
	hasStatusCode
	hasStart
	hasEnd
	allV1Keys = hasName | hasKind | hasAttributes | hasStatusCode | hasStart | hasEnd
)

// parseSpanHeader reports whether body is a span body, an object with the
// seven keys of the v1 format, and returns the keys the columns repeat. It
// scans the top level of the object without decoding nested values, because
// the verifier runs it on every entry.
func parseSpanHeader(body []byte) (spanHeader, bool) {
	var h spanHeader
	ok := scanObject(body, func(key, value []byte) bool {
		switch string(key) {
		case "name":
			return h.setString(value, &h.Name, hasName)
		case "kind":
			return h.setString(value, &h.Kind, hasKind)
		case "end_time_ns":
			return h.setString(value, &h.EndTimeNS, hasEnd)
		case "start_time_ns":
			var s string
			return h.setString(value, &s, hasStart)
		case "status_code":
			var s string
			return h.setString(value, &s, hasStatusCode)
		case "attributes":
			if value[0] != '{' {
				return false
			}
			h.hasV1Keys |= hasAttributes
		case "status_description":
			h.description = true
		case "trace_id":
			h.TraceID = new(string)
			return decodeString(value, h.TraceID)
		case "span_id":
			h.SpanID = new(string)
			return decodeString(value, h.SpanID)
		}
		return true
	})
	return h, ok && h.hasV1Keys == allV1Keys && h.description
}

func (h *spanHeader) setString(value []byte, dst *string, bit int) bool {
	if !decodeString(value, dst) {
		return false
	}
	h.hasV1Keys |= bit
	return true
}

// decodeString decodes a JSON string value. It reports false for any other
// JSON value.
func decodeString(value []byte, dst *string) bool {
	if len(value) < 2 || value[0] != '"' {
		return false
	}
	inner := value[1 : len(value)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		*dst = string(inner)
		return true
	}
	return json.Unmarshal(value, dst) == nil
}

// scanObject calls fn with the raw key (without quotes, escapes left as
// they are) and raw value of each member of the JSON object in data. It
// returns false when data is not an object it can scan or fn returns false.
func scanObject(data []byte, fn func(key, value []byte) bool) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		keyEnd := skipString(data, i)
		if keyEnd < 0 {
			return false
		}
		key := data[i+1 : keyEnd-1]
		i = skipSpace(data, keyEnd)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		valueEnd := skipValue(data, i)
		if valueEnd < 0 {
			return false
		}
		if !fn(key, data[i:valueEnd]) {
			return false
		}
		i = skipSpace(data, valueEnd)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at data[i], or -1.
func skipString(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at data[i], or
// -1. It tracks nesting and strings but does not validate literals.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end := skipString(data, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(data) && data[j] != ',' && data[j] != '}' && data[j] != ']' && data[j] != ' ' && data[j] != '\n' && data[j] != '\t' && data[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}
