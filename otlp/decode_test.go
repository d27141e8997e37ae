package otlp

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	bijotel "github.com/bijotel/bijotel-go"
)

// requestR1 is an OTLP/JSON request with upper-case hex ids, which pdata
// decodes like lower-case ones.
const requestR1 = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc-test"}}]},"scopeSpans":[{"scope":{"name":"field-report-test","version":"1"},"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"EEE19B7EC3C1B173","name":"chat claude-haiku-4-5","kind":3,"startTimeUnixNano":"1700000003000000000","endTimeUnixNano":"1700000003400000000","attributes":[{"key":"gen_ai.provider.name","value":{"stringValue":"anthropic"}},{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.request.model","value":{"stringValue":"claude-haiku-4-5"}}],"status":{}}]}]}]}`

// withR1 returns requestR1 with old replaced by replacement, and fails the
// test if old does not occur exactly once.
func withR1(t *testing.T, old, replacement string) []byte {
	t.Helper()
	if n := strings.Count(requestR1, old); n != 1 {
		t.Fatalf("%q occurs %d times in requestR1, want 1", old, n)
	}
	return []byte(strings.Replace(requestR1, old, replacement, 1))
}

func TestDecodeJSONUpperCaseHexIDs(t *testing.T) {
	got, err := DecodeJSON([]byte(requestR1))
	if err != nil {
		t.Fatalf("DecodeJSON: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("DecodeJSON returned %d spans, want 1", len(got))
	}

	span := got[0]
	if span.TraceID != "5b8efff798038103d269b633813fc60c" {
		t.Errorf("TraceID = %q, want 5b8efff798038103d269b633813fc60c", span.TraceID)
	}
	if span.SpanID != "eee19b7ec3c1b174" {
		t.Errorf("SpanID = %q, want eee19b7ec3c1b174", span.SpanID)
	}
	if span.ParentSpanID != "eee19b7ec3c1b173" {
		t.Errorf("ParentSpanID = %q, want eee19b7ec3c1b173", span.ParentSpanID)
	}
	if span.Kind != "CLIENT" {
		t.Errorf("Kind = %q, want CLIENT", span.Kind)
	}
	if span.StatusCode != "UNSET" {
		t.Errorf("StatusCode = %q, want UNSET", span.StatusCode)
	}
	if span.StartTimeUnixNano != 1700000003000000000 {
		t.Errorf("StartTimeUnixNano = %d, want 1700000003000000000", span.StartTimeUnixNano)
	}
	if span.EndTimeUnixNano != 1700000003400000000 {
		t.Errorf("EndTimeUnixNano = %d, want 1700000003400000000", span.EndTimeUnixNano)
	}
	wantAttrs := []bijotel.Attribute{
		{Key: "gen_ai.provider.name", Value: "anthropic"},
		{Key: "gen_ai.operation.name", Value: "chat"},
		{Key: "gen_ai.request.model", Value: "claude-haiku-4-5"},
	}
	if !reflect.DeepEqual(span.Attributes, wantAttrs) {
		t.Errorf("Attributes = %v, want %v", span.Attributes, wantAttrs)
	}
	if span.Scope.Name != "field-report-test" {
		t.Errorf("Scope.Name = %q, want field-report-test", span.Scope.Name)
	}
	if span.Scope.Version != "1" {
		t.Errorf("Scope.Version = %q, want 1", span.Scope.Version)
	}
	wantResource := []bijotel.Attribute{{Key: "service.name", Value: "svc-test"}}
	if !reflect.DeepEqual(span.Resource.Attributes, wantResource) {
		t.Errorf("Resource.Attributes = %v, want %v", span.Resource.Attributes, wantResource)
	}
}

func TestDecodeJSONEmptyParentSpanID(t *testing.T) {
	data := withR1(t, `"parentSpanId":"EEE19B7EC3C1B173"`, `"parentSpanId":""`)

	got, err := DecodeJSON(data)
	if err != nil {
		t.Fatalf("DecodeJSON: %v", err)
	}
	if got[0].ParentSpanID != "" {
		t.Errorf("ParentSpanID = %q, want empty", got[0].ParentSpanID)
	}
}

func TestDecodeJSONSnakeCaseFields(t *testing.T) {
	data := []byte(`{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174","parent_span_id":"eee19b7ec3c1b173","kind":"SPAN_KIND_SERVER","start_time_unix_nano":"5"}]}]}]}`)

	got, err := DecodeJSON(data)
	if err != nil {
		t.Fatalf("DecodeJSON: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("DecodeJSON returned %d spans, want 1", len(got))
	}
	if got[0].ParentSpanID != "eee19b7ec3c1b173" {
		t.Errorf("ParentSpanID = %q, want eee19b7ec3c1b173", got[0].ParentSpanID)
	}
	if got[0].Kind != "SERVER" {
		t.Errorf("Kind = %q, want SERVER", got[0].Kind)
	}
	if got[0].StartTimeUnixNano != 5 {
		t.Errorf("StartTimeUnixNano = %d, want 5", got[0].StartTimeUnixNano)
	}
}

func TestDecodeJSONDeprecatedScopeSpans(t *testing.T) {
	data := []byte(`{"resourceSpans":[{"deprecatedScopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"old"}]}]}]}`)

	got, err := DecodeJSON(data)
	if err != nil {
		t.Fatalf("DecodeJSON: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("DecodeJSON returned %d spans, want 1", len(got))
	}
	if got[0].Name != "old" {
		t.Errorf("Name = %q, want old", got[0].Name)
	}
}

func TestDecodeJSONLegacyScopeSpansKey(t *testing.T) {
	data := strings.Replace(requestR1, `"scopeSpans"`, `"instrumentationLibrarySpans"`, 1)

	_, err := DecodeJSON([]byte(data))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("DecodeJSON error = %v, want one wrapping ErrInvalid", err)
	}
	want := "resourceSpans[0].instrumentationLibrarySpans is the field that OTLP renamed scopeSpans"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("DecodeJSON error = %q, want it to contain %q", err, want)
	}
}

func TestDecodeJSONLegacyKeyInAttributeValue(t *testing.T) {
	data := strings.Replace(requestR1, `"stringValue":"anthropic"`, `"stringValue":"instrumentationLibrarySpans"`, 1)

	got, err := DecodeJSON([]byte(data))
	if err != nil {
		t.Fatalf("DecodeJSON: %v", err)
	}
	if len(got) != 1 {
		t.Errorf("DecodeJSON returned %d spans, want 1", len(got))
	}
}

func TestDecodeJSONInvalidIDs(t *testing.T) {
	tests := []struct {
		name      string
		old, repl string
		wantMsg   []string
	}{
		{
			name:    "trace id in base64",
			old:     `"traceId":"5B8EFFF798038103D269B633813FC60C"`,
			repl:    `"traceId":"W47/95gDgQPSabYzgT/GDA=="`,
			wantMsg: []string{"resourceSpans[0].scopeSpans[0].spans[0].traceId", "W47/95gDgQPSabYzgT/GDA==", "not base64"},
		},
		{
			name:    "span id in base64",
			old:     `"spanId":"EEE19B7EC3C1B174"`,
			repl:    `"spanId":"7uGbfsPBsXQ="`,
			wantMsg: []string{"resourceSpans[0].scopeSpans[0].spans[0].spanId", "not base64"},
		},
		{
			name:    "parent span id in base64",
			old:     `"parentSpanId":"EEE19B7EC3C1B173"`,
			repl:    `"parentSpanId":"7uGbfsPBsXM="`,
			wantMsg: []string{"resourceSpans[0].scopeSpans[0].spans[0].parentSpanId", "not base64"},
		},
		{
			name:    "short trace id",
			old:     `"traceId":"5B8EFFF798038103D269B633813FC60C"`,
			repl:    `"traceId":"5b8efff7"`,
			wantMsg: []string{"spans[0].traceId", "want 32 hex digits, got 8 characters"},
		},
		{
			name:    "trace id of odd length",
			old:     `"traceId":"5B8EFFF798038103D269B633813FC60C"`,
			repl:    `"traceId":"5B8EFFF798038103D269B633813FC60C0"`,
			wantMsg: []string{"spans[0].traceId", "got 33 characters"},
		},
		{
			name:    "long trace id",
			old:     `"traceId":"5B8EFFF798038103D269B633813FC60C"`,
			repl:    `"traceId":"` + strings.Repeat("ab", 100) + `"`,
			wantMsg: []string{`spans[0].traceId "abab`, `...: want 32 hex digits, got 200 characters`},
		},
		{
			name:    "trace id with a non-hex digit",
			old:     `"traceId":"5B8EFFF798038103D269B633813FC60C"`,
			repl:    `"traceId":"5B8EFFF798038103D269B633813FC60Z"`,
			wantMsg: []string{"spans[0].traceId", "got other characters"},
		},
		{
			name:    "trace id with an escape sequence",
			old:     `"traceId":"5B8EFFF798038103D269B633813FC60C"`,
			repl:    `"traceId":"\u00358EFFF798038103D269B633813FC60C"`,
			wantMsg: []string{"spans[0].traceId", "without escape sequences"},
		},
		{
			name:    "trace id as a number",
			old:     `"traceId":"5B8EFFF798038103D269B633813FC60C"`,
			repl:    `"traceId":123`,
			wantMsg: []string{"spans[0].traceId 123: an id must be a JSON string"},
		},
		{
			name:    "span id as null",
			old:     `"spanId":"EEE19B7EC3C1B174"`,
			repl:    `"spanId":null`,
			wantMsg: []string{"spans[0].spanId null: an id must be a JSON string"},
		},
		{
			name:    "empty trace id",
			old:     `"traceId":"5B8EFFF798038103D269B633813FC60C"`,
			repl:    `"traceId":""`,
			wantMsg: []string{"spans[0].traceId is missing or all zeros"},
		},
		{
			name:    "all-zero span id",
			old:     `"spanId":"EEE19B7EC3C1B174"`,
			repl:    `"spanId":"0000000000000000"`,
			wantMsg: []string{"spans[0].spanId is missing or all zeros"},
		},
		{
			name:    "missing span id",
			old:     `"spanId":"EEE19B7EC3C1B174",`,
			repl:    ``,
			wantMsg: []string{"spans[0].spanId is missing or all zeros"},
		},
		{
			name:    "link trace id in base64",
			old:     `"status":{}`,
			repl:    `"status":{},"links":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"},{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"eee19b7ec3c1b174"}]`,
			wantMsg: []string{"spans[0].links[1].traceId", "not base64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJSON(withR1(t, tt.old, tt.repl))
			if err == nil {
				t.Fatal("DecodeJSON returned no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("DecodeJSON error = %v, want one wrapping ErrInvalid", err)
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("DecodeJSON error = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestDecodeJSONInvalidRequests(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantMsg string
	}{
		{name: "empty input", data: ``, wantMsg: "malformed JSON"},
		{name: "truncated", data: requestR1[:len(requestR1)-1], wantMsg: "malformed JSON"},
		{name: "trailing data", data: requestR1 + ` {}`, wantMsg: "malformed JSON: invalid character '{' after top-level value at byte offset"},
		{name: "array", data: ` []`, wantMsg: "a request must be a JSON object, got []"},
		{name: "bad time", data: strings.Replace(requestR1, `"1700000003000000000"`, `"soon"`, 1), wantMsg: "ParseUint"},
		{name: "unknown kind name", data: strings.Replace(requestR1, `"kind":3`, `"kind":"SPAN_KIND_OTHER"`, 1), wantMsg: "ReadEnumValue"},
		{name: "kind out of range", data: strings.Replace(requestR1, `"kind":3`, `"kind":6`, 1), wantMsg: "spans[0].kind 6 is not a valid SpanKind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJSON([]byte(tt.data))
			if err == nil {
				t.Fatal("DecodeJSON returned no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("DecodeJSON error = %v, want one wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("DecodeJSON error = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestDecodeJSONNoSpans(t *testing.T) {
	for _, data := range []string{`{}`, `{"resourceSpans":[]}`, `{"resourceSpans":[{"scopeSpans":[{}]}]}`} {
		got, err := DecodeJSON([]byte(data))
		if err != nil {
			t.Errorf("DecodeJSON(%s): %v", data, err)
			continue
		}
		if len(got) != 0 {
			t.Errorf("DecodeJSON(%s) returned %d spans, want 0", data, len(got))
		}
	}
}

func TestDecodeJSONMatchesPdataJSONMarshaler(t *testing.T) {
	td, want := newTestTraces()
	data, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatalf("MarshalTraces: %v", err)
	}

	got, err := DecodeJSON(data)
	if err != nil {
		t.Fatalf("DecodeJSON: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeJSON:\n got %#v\nwant %#v", got, want)
	}
}

func TestDecodeProtoRoundTrip(t *testing.T) {
	td, want := newTestTraces()
	data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatalf("MarshalTraces: %v", err)
	}

	got, err := DecodeProto(data)
	if err != nil {
		t.Fatalf("DecodeProto: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeProto:\n got %#v\nwant %#v", got, want)
	}
}

func TestDecodeProtoEmptyRequest(t *testing.T) {
	got, err := DecodeProto(nil)
	if err != nil {
		t.Fatalf("DecodeProto: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("DecodeProto returned %d spans, want 0", len(got))
	}
}

func TestDecodeProtoMalformed(t *testing.T) {
	td, _ := newTestTraces()
	valid, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatalf("MarshalTraces: %v", err)
	}

	tests := map[string][]byte{
		"truncated":       valid[:len(valid)-3],
		"text":            []byte("hello world"),
		"bad varint":      {0xff, 0xff},
		"length overflow": {0x0a, 0x05, 0x01},
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeProto(data)
			if err == nil {
				t.Fatal("DecodeProto returned no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("DecodeProto error = %v, want one wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), "malformed protobuf") {
				t.Errorf("DecodeProto error = %q, want it to contain %q", err, "malformed protobuf")
			}
		})
	}
}

// protoSpan returns a protobuf Span with the given id fields, in order.
func protoSpan(ids ...protoID) []byte {
	var span []byte
	for _, id := range ids {
		span = protowire.AppendTag(span, id.num, protowire.BytesType)
		span = protowire.AppendBytes(span, id.value)
	}
	return span
}

type protoID struct {
	num   protowire.Number
	value []byte
}

// protoRequest returns a protobuf ExportTraceServiceRequest with one
// ResourceSpans that has the given spans in one ScopeSpans under field
// number scopeSpansField.
func protoRequest(scopeSpansField protowire.Number, spans ...[]byte) []byte {
	var ss []byte
	for _, span := range spans {
		ss = protowire.AppendTag(ss, scopeSpansSpans, protowire.BytesType)
		ss = protowire.AppendBytes(ss, span)
	}
	var rs []byte
	rs = protowire.AppendTag(rs, scopeSpansField, protowire.BytesType)
	rs = protowire.AppendBytes(rs, ss)
	var request []byte
	request = protowire.AppendTag(request, requestResourceSpans, protowire.BytesType)
	return protowire.AppendBytes(request, rs)
}

func TestDecodeProtoInvalidIDs(t *testing.T) {
	traceID := protoID{spanTraceID, testTraceID[:]}
	spanID := protoID{spanSpanID, testSpanID[:]}
	valid := protoSpan(traceID, spanID)

	tests := []struct {
		name    string
		data    []byte
		wantMsg string
	}{
		{
			name:    "short trace id",
			data:    protoRequest(resourceSpansScopeSpans, valid, protoSpan(protoID{spanTraceID, testTraceID[:12]}, spanID)),
			wantMsg: "resourceSpans[0].scopeSpans[0].spans[1].traceId is 12 bytes, want 16",
		},
		{
			name:    "long parent span id",
			data:    protoRequest(resourceSpansScopeSpans, protoSpan(traceID, spanID, protoID{spanParentSpanID, testTraceID[:]})),
			wantMsg: "resourceSpans[0].scopeSpans[0].spans[0].parentSpanId is 16 bytes, want 8",
		},
		{
			name: "span id as varint",
			data: protoRequest(resourceSpansScopeSpans, protowire.AppendVarint(
				protowire.AppendTag(protoSpan(traceID), spanSpanID, protowire.VarintType), 5)),
			wantMsg: "resourceSpans[0].scopeSpans[0].spans[0].spanId has wire type 0, want 2",
		},
		{
			name:    "missing span id",
			data:    protoRequest(resourceSpansScopeSpans, protoSpan(traceID)),
			wantMsg: "resourceSpans[0].scopeSpans[0].spans[0].spanId is missing or all zeros",
		},
		{
			name:    "short trace id in deprecated field",
			data:    protoRequest(resourceSpansDeprecatedScopeSpans, protoSpan(protoID{spanTraceID, testTraceID[:4]}, spanID)),
			wantMsg: "resourceSpans[0].deprecatedScopeSpans[0].spans[0].traceId is 4 bytes, want 16",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeProto(tt.data)
			if err == nil {
				t.Fatal("DecodeProto returned no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("DecodeProto error = %v, want one wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("DecodeProto error = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestDecodeProtoLinkInvalidID(t *testing.T) {
	var link []byte
	link = protowire.AppendTag(link, linkTraceID, protowire.BytesType)
	link = protowire.AppendBytes(link, testTraceID[:])
	link = protowire.AppendTag(link, linkSpanID, protowire.BytesType)
	link = protowire.AppendBytes(link, []byte{1, 2, 3})
	span := protoSpan(protoID{spanTraceID, testTraceID[:]}, protoID{spanSpanID, testSpanID[:]})
	span = protowire.AppendTag(span, spanLinks, protowire.BytesType)
	span = protowire.AppendBytes(span, link)

	_, err := DecodeProto(protoRequest(resourceSpansScopeSpans, span))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("DecodeProto error = %v, want one wrapping ErrInvalid", err)
	}
	want := "resourceSpans[0].scopeSpans[0].spans[0].links[0].spanId is 3 bytes, want 8"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("DecodeProto error = %q, want it to contain %q", err, want)
	}
}

func TestDecodeProtoDeprecatedScopeSpans(t *testing.T) {
	span := protoSpan(protoID{spanTraceID, testTraceID[:]}, protoID{spanSpanID, testSpanID[:]})
	data := protoRequest(resourceSpansDeprecatedScopeSpans, span, span)

	got, err := DecodeProto(data)
	if err != nil {
		t.Fatalf("DecodeProto: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("DecodeProto returned %d spans, want 2", len(got))
	}
	if got[0].TraceID != "5b8efff798038103d269b633813fc60c" {
		t.Errorf("TraceID = %q, want 5b8efff798038103d269b633813fc60c", got[0].TraceID)
	}
}

func TestDecodeProtoBothScopeSpansFields(t *testing.T) {
	span := protoSpan(protoID{spanTraceID, testTraceID[:]}, protoID{spanSpanID, testSpanID[:]})
	var ss []byte
	ss = protowire.AppendTag(ss, scopeSpansSpans, protowire.BytesType)
	ss = protowire.AppendBytes(ss, span)

	// One ResourceSpans with both fields, so pdata's rule keeps only
	// scope_spans, and a second ResourceSpans with only the deprecated one.
	var both []byte
	both = protowire.AppendTag(both, resourceSpansScopeSpans, protowire.BytesType)
	both = protowire.AppendBytes(both, ss)
	both = protowire.AppendTag(both, resourceSpansDeprecatedScopeSpans, protowire.BytesType)
	both = protowire.AppendBytes(both, ss)
	var data []byte
	data = protowire.AppendTag(data, requestResourceSpans, protowire.BytesType)
	data = protowire.AppendBytes(data, both)
	data = append(data, protoRequest(resourceSpansDeprecatedScopeSpans, span)...)

	got, err := DecodeProto(data)
	if err != nil {
		t.Fatalf("DecodeProto: %v", err)
	}
	if len(got) != 2 {
		t.Errorf("DecodeProto returned %d spans, want 2", len(got))
	}
}
