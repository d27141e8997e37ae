package otlp // import "github.com/bijotel/bijotel-go/otlp"

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// pdata v1.71.0 reports an invalid id only as "ID.UnmarshalJSONIter: length
// mismatch" or "unmarshal: invalid TraceID length", without the field or its
// position. After pdata has rejected a request, the functions in this file
// walk the request again, this time only through the fields that contain ids,
// and report the first id that pdata's rules reject. They return nil when
// they find none, and the caller then returns pdata's error.

const (
	traceIDSize = 16
	spanIDSize  = 8
)

// idField is a field that contains a trace id or a span id, under the names
// that pdata v1.71.0 accepts in OTLP/JSON.
type idField struct {
	names []string
	size  int
}

var (
	spanIDFields = []idField{
		{names: []string{"traceId", "trace_id"}, size: traceIDSize},
		{names: []string{"spanId", "span_id"}, size: spanIDSize},
		{names: []string{"parentSpanId", "parent_span_id"}, size: spanIDSize},
	}
	linkIDFields = []idField{
		{names: []string{"traceId", "trace_id"}, size: traceIDSize},
		{names: []string{"spanId", "span_id"}, size: spanIDSize},
	}
)

// jsonObject is a JSON object with its values left undecoded.
type jsonObject map[string]json.RawMessage

// findJSONIDError returns an error for the first id in data, an OTLP/JSON
// ExportTraceServiceRequest, that is not valid, or nil if it finds none.
// The error message starts with the path to the id, such as
// "resourceSpans[0].scopeSpans[0].spans[3].parentSpanId".
func findJSONIDError(data []byte) error {
	var request jsonObject
	if json.Unmarshal(data, &request) != nil {
		return nil
	}

	for rsKey, resourceSpans := range jsonArrays(request, "resourceSpans", "resource_spans") {
		for ri, rs := range resourceSpans {
			for ssKey, scopeSpans := range jsonArrays(rs, "scopeSpans", "scope_spans", "deprecatedScopeSpans", "deprecated_scope_spans") {
				for si, ss := range scopeSpans {
					for _, spans := range jsonArrays(ss, "spans") {
						for i, span := range spans {
							path := fmt.Sprintf("%s[%d].%s[%d].spans[%d]", rsKey, ri, ssKey, si, i)
							if err := checkJSONSpan(span, path); err != nil {
								return err
							}
						}
					}
				}
			}
		}
	}
	return nil
}

// jsonArrays returns an iterator over the arrays of objects that obj contains
// under any of names, with the name of each. It skips a value that is not an
// array of objects, because pdata reports that error itself.
func jsonArrays(obj jsonObject, names ...string) func(yield func(string, []jsonObject) bool) {
	return func(yield func(string, []jsonObject) bool) {
		for _, name := range names {
			raw, ok := obj[name]
			if !ok {
				continue
			}
			var elems []jsonObject
			if json.Unmarshal(raw, &elems) != nil {
				continue
			}
			if !yield(name, elems) {
				return
			}
		}
	}
}

func checkJSONSpan(span jsonObject, path string) error {
	if err := checkJSONIDs(span, spanIDFields, path); err != nil {
		return err
	}
	for _, links := range jsonArrays(span, "links") {
		for i, link := range links {
			if err := checkJSONIDs(link, linkIDFields, fmt.Sprintf("%s.links[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkJSONIDs(obj jsonObject, fields []idField, path string) error {
	for _, field := range fields {
		for _, name := range field.names {
			raw, ok := obj[name]
			if !ok {
				continue
			}
			if problem := checkJSONID(raw, field.size); problem != "" {
				return fmt.Errorf("%s.%s %s: %s", path, name, quoteRaw(raw), problem)
			}
		}
	}
	return nil
}

// checkJSONID applies pdata v1.71.0's rules to raw, the JSON text of an id
// of size bytes, and returns what is wrong with it or "" if nothing is. pdata
// accepts an empty string as an all-zero id and otherwise requires exactly
// 2*size hex digits in either case. It rejects null, and it reads the string
// without unescaping it, so an escape sequence is never valid.
func checkJSONID(raw json.RawMessage, size int) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "an id must be a JSON string"
	}

	s := raw[1 : len(raw)-1]
	if len(s) == 0 {
		return ""
	}
	if len(s) == 2*size {
		if _, err := hex.Decode(make([]byte, size), s); err == nil {
			return ""
		}
	}

	want := fmt.Sprintf("want %d hex digits", 2*size)
	if bytes.IndexByte(s, '\\') >= 0 {
		return want + " without escape sequences"
	}
	if decoded, err := base64.StdEncoding.DecodeString(string(s)); err == nil && len(decoded) == size {
		return want + ", not base64, because OTLP/JSON encodes ids as hex"
	}
	if len(s) != 2*size {
		return fmt.Sprintf("%s, got %d characters", want, len(s))
	}
	return want + ", got other characters"
}

// quoteRaw returns raw, a JSON value, shortened for an error message.
func quoteRaw(raw json.RawMessage) string {
	const maxLen = 64
	raw = bytes.TrimSpace(raw)
	if len(raw) <= maxLen {
		return string(raw)
	}
	// The cut may split a UTF-8 sequence, so drop its remains.
	return strings.ToValidUTF8(string(raw[:maxLen]), "") + "..."
}

// Field numbers from opentelemetry/proto/collector/trace/v1/trace_service.proto
// and opentelemetry/proto/trace/v1/trace.proto.
const (
	requestResourceSpans              protowire.Number = 1    // ExportTraceServiceRequest.resource_spans
	resourceSpansScopeSpans           protowire.Number = 2    // ResourceSpans.scope_spans
	resourceSpansDeprecatedScopeSpans protowire.Number = 1000 // ResourceSpans.instrumentation_library_spans, deprecated and later removed
	scopeSpansSpans                   protowire.Number = 2    // ScopeSpans.spans
	spanTraceID                       protowire.Number = 1    // Span.trace_id
	spanSpanID                        protowire.Number = 2    // Span.span_id
	spanParentSpanID                  protowire.Number = 4    // Span.parent_span_id
	spanLinks                         protowire.Number = 13   // Span.links
	linkTraceID                       protowire.Number = 1    // Span.Link.trace_id
	linkSpanID                        protowire.Number = 2    // Span.Link.span_id
)

// protoField is one field of a protobuf message.
type protoField struct {
	num protowire.Number
	typ protowire.Type
	// value is the content of a length-delimited field, nil for other types.
	value []byte
	// raw is the whole field, tag included.
	raw []byte
}

// protoFields returns an iterator over the fields of msg, and a function
// that returns the parse error that ended the iteration, if any.
func protoFields(msg []byte) (func(yield func(protoField) bool), func() error) {
	var parseErr error
	seq := func(yield func(protoField) bool) {
		for len(msg) > 0 {
			num, typ, tagLen := protowire.ConsumeTag(msg)
			if tagLen < 0 {
				parseErr = protowire.ParseError(tagLen)
				return
			}
			valueLen := protowire.ConsumeFieldValue(num, typ, msg[tagLen:])
			if valueLen < 0 {
				parseErr = protowire.ParseError(valueLen)
				return
			}

			field := protoField{num: num, typ: typ, raw: msg[:tagLen+valueLen]}
			if typ == protowire.BytesType {
				field.value, _ = protowire.ConsumeBytes(msg[tagLen:])
			}
			msg = msg[tagLen+valueLen:]
			if !yield(field) {
				return
			}
		}
	}
	return seq, func() error { return parseErr }
}

// messages returns an iterator over the length-delimited fields of msg with
// number num, with their index among those fields. A parse error ends the
// iteration early, because pdata reports that error itself.
func messages(msg []byte, num protowire.Number) func(yield func(int, []byte) bool) {
	return func(yield func(int, []byte) bool) {
		fields, _ := protoFields(msg)
		i := 0
		for field := range fields {
			if field.num != num || field.typ != protowire.BytesType {
				continue
			}
			if !yield(i, field.value) {
				return
			}
			i++
		}
	}
}

// findProtoIDError returns an error for the first id in data, a protobuf
// ExportTraceServiceRequest, that has the wrong wire type or length, or nil
// if it finds none.
func findProtoIDError(data []byte) error {
	scopeSpansFields := []struct {
		num  protowire.Number
		name string
	}{
		{resourceSpansScopeSpans, "scopeSpans"},
		{resourceSpansDeprecatedScopeSpans, "deprecatedScopeSpans"},
	}

	for ri, rs := range messages(data, requestResourceSpans) {
		for _, ssField := range scopeSpansFields {
			for si, ss := range messages(rs, ssField.num) {
				for i, span := range messages(ss, scopeSpansSpans) {
					path := fmt.Sprintf("resourceSpans[%d].%s[%d].spans[%d]", ri, ssField.name, si, i)
					if err := checkProtoSpan(span, path); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func checkProtoSpan(span []byte, path string) error {
	err := checkProtoIDs(span, path, map[protowire.Number]idName{
		spanTraceID:      {"traceId", traceIDSize},
		spanSpanID:       {"spanId", spanIDSize},
		spanParentSpanID: {"parentSpanId", spanIDSize},
	})
	if err != nil {
		return err
	}

	for i, link := range messages(span, spanLinks) {
		err := checkProtoIDs(link, fmt.Sprintf("%s.links[%d]", path, i), map[protowire.Number]idName{
			linkTraceID: {"traceId", traceIDSize},
			linkSpanID:  {"spanId", spanIDSize},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// idName is the OTLP/JSON name and the size in bytes of a protobuf id field.
type idName struct {
	name string
	size int
}

// checkProtoIDs applies pdata v1.71.0's rules to the id fields of msg: an
// id must be length-delimited and either empty or exactly its size.
func checkProtoIDs(msg []byte, path string, ids map[protowire.Number]idName) error {
	fields, _ := protoFields(msg)
	for field := range fields {
		id, ok := ids[field.num]
		if !ok {
			continue
		}
		if field.typ != protowire.BytesType {
			return fmt.Errorf("%s.%s has wire type %d, want %d (length-delimited)",
				path, id.name, field.typ, protowire.BytesType)
		}
		if len(field.value) != 0 && len(field.value) != id.size {
			return fmt.Errorf("%s.%s is %d bytes, want %d", path, id.name, len(field.value), id.size)
		}
	}
	return nil
}

// migrateDeprecatedScopeSpans returns data, a protobuf
// ExportTraceServiceRequest, with the deprecated field 1000 of ResourceSpans
// renumbered to scope_spans in every ResourceSpans that has no scope_spans.
// This is the rule that pdata v1.71.0 applies to OTLP/JSON and to its OTLP
// receivers, but not in ptrace.ProtoUnmarshaler, which would drop those
// spans. Both fields have the same wire format.
//
// It returns data itself when nothing needs to change, which is the case for
// every sender of the current OTLP version, and also when data does not
// parse, so that pdata reports the error.
func migrateDeprecatedScopeSpans(data []byte) []byte {
	if !requestNeedsMigration(data) {
		return data
	}

	out := make([]byte, 0, len(data))
	fields, _ := protoFields(data)
	for field := range fields {
		if field.num != requestResourceSpans || field.typ != protowire.BytesType || !resourceSpansNeedsMigration(field.value) {
			out = append(out, field.raw...)
			continue
		}

		rs := make([]byte, 0, len(field.value))
		rsFields, _ := protoFields(field.value)
		for rsField := range rsFields {
			if rsField.num == resourceSpansDeprecatedScopeSpans && rsField.typ == protowire.BytesType {
				rs = protowire.AppendTag(rs, resourceSpansScopeSpans, protowire.BytesType)
				rs = protowire.AppendBytes(rs, rsField.value)
				continue
			}
			rs = append(rs, rsField.raw...)
		}
		out = protowire.AppendTag(out, requestResourceSpans, protowire.BytesType)
		out = protowire.AppendBytes(out, rs)
	}
	return out
}

// requestNeedsMigration reports whether data, a protobuf
// ExportTraceServiceRequest, parses and has a ResourceSpans that
// resourceSpansNeedsMigration reports.
func requestNeedsMigration(data []byte) bool {
	fields, parseErr := protoFields(data)
	found := false
	for field := range fields {
		if field.num == requestResourceSpans && field.typ == protowire.BytesType && resourceSpansNeedsMigration(field.value) {
			found = true
		}
	}
	return found && parseErr() == nil
}

// resourceSpansNeedsMigration reports whether rs, a protobuf ResourceSpans,
// parses and has the deprecated field 1000 but no scope_spans.
func resourceSpansNeedsMigration(rs []byte) bool {
	fields, parseErr := protoFields(rs)
	hasScopeSpans, hasDeprecated := false, false
	for field := range fields {
		switch field.num {
		case resourceSpansScopeSpans:
			hasScopeSpans = true
		case resourceSpansDeprecatedScopeSpans:
			hasDeprecated = true
		}
	}
	return hasDeprecated && !hasScopeSpans && parseErr() == nil
}
