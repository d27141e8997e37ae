package otlp

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	bijotel "github.com/bijotel/bijotel-go"
)

var (
	testTraceID     = pcommon.TraceID{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	testSpanID      = pcommon.SpanID{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74}
	testParent      = pcommon.SpanID{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73}
	testLinkTraceID = pcommon.TraceID{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}
	testLinkSpanID  = pcommon.SpanID{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}
)

// newTestTraces returns traces with one resource, one scope and one span
// that sets every field Spans converts, and the spans Spans must return.
func newTestTraces() (ptrace.Traces, []bijotel.Span) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
	rs.Resource().Attributes().PutStr("service.name", "svc-test")
	rs.Resource().Attributes().PutInt("process.pid", 4242)

	ss := rs.ScopeSpans().AppendEmpty()
	ss.SetSchemaUrl("https://opentelemetry.io/schemas/1.27.0")
	ss.Scope().SetName("field-report-test")
	ss.Scope().SetVersion("1.2.3")
	ss.Scope().Attributes().PutBool("scope.flag", true)

	span := ss.Spans().AppendEmpty()
	span.SetTraceID(testTraceID)
	span.SetSpanID(testSpanID)
	span.SetParentSpanID(testParent)
	span.SetName("chat claude-haiku-4-5")
	span.SetKind(ptrace.SpanKindClient)
	span.SetStartTimestamp(1700000003000000000)
	span.SetEndTimestamp(1700000003400000000)
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage("rate_limit_error")
	span.Attributes().PutStr("gen_ai.provider.name", "anthropic")
	span.Attributes().PutInt("gen_ai.usage.input_tokens", 31)
	span.Attributes().PutDouble("gen_ai.request.temperature", 0.7)
	span.SetDroppedAttributesCount(1)
	span.SetDroppedEventsCount(2)
	span.SetDroppedLinksCount(3)

	event := span.Events().AppendEmpty()
	event.SetName("gen_ai.choice")
	event.SetTimestamp(1700000003200000000)
	event.Attributes().PutStr("finish_reason", "stop")
	event.SetDroppedAttributesCount(4)

	link := span.Links().AppendEmpty()
	link.SetTraceID(testLinkTraceID)
	link.SetSpanID(testLinkSpanID)
	link.TraceState().FromRaw("vendor=value")
	link.Attributes().PutStr("link.kind", "follows")
	link.SetDroppedAttributesCount(5)

	want := []bijotel.Span{{
		TraceID:           "5b8efff798038103d269b633813fc60c",
		SpanID:            "eee19b7ec3c1b174",
		ParentSpanID:      "eee19b7ec3c1b173",
		Name:              "chat claude-haiku-4-5",
		Kind:              "CLIENT",
		StartTimeUnixNano: 1700000003000000000,
		EndTimeUnixNano:   1700000003400000000,
		StatusCode:        "ERROR",
		StatusDescription: "rate_limit_error",
		Attributes: []bijotel.Attribute{
			{Key: "gen_ai.provider.name", Value: "anthropic"},
			{Key: "gen_ai.usage.input_tokens", Value: int64(31)},
			{Key: "gen_ai.request.temperature", Value: 0.7},
		},
		Events: []bijotel.Event{{
			Name:              "gen_ai.choice",
			TimeUnixNano:      1700000003200000000,
			Attributes:        []bijotel.Attribute{{Key: "finish_reason", Value: "stop"}},
			DroppedAttributes: 4,
		}},
		Links: []bijotel.Link{{
			TraceID:           "0102030405060708090a0b0c0d0e0f10",
			SpanID:            "a1a2a3a4a5a6a7a8",
			TraceState:        "vendor=value",
			Attributes:        []bijotel.Attribute{{Key: "link.kind", Value: "follows"}},
			DroppedAttributes: 5,
		}},
		Resource: bijotel.Resource{
			Attributes: []bijotel.Attribute{
				{Key: "service.name", Value: "svc-test"},
				{Key: "process.pid", Value: int64(4242)},
			},
			SchemaURL: "https://opentelemetry.io/schemas/1.26.0",
		},
		Scope: bijotel.Scope{
			Name:       "field-report-test",
			Version:    "1.2.3",
			SchemaURL:  "https://opentelemetry.io/schemas/1.27.0",
			Attributes: []bijotel.Attribute{{Key: "scope.flag", Value: true}},
		},
		DroppedAttributes: 1,
		DroppedEvents:     2,
		DroppedLinks:      3,
	}}
	return td, want
}

func TestSpansConvertsEveryField(t *testing.T) {
	td, want := newTestTraces()

	got, err := Spans(td)
	if err != nil {
		t.Fatalf("Spans: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Spans:\n got %#v\nwant %#v", got, want)
	}
}

func TestSpansOrderAcrossResourcesAndScopes(t *testing.T) {
	td := ptrace.NewTraces()
	var wantNames []string
	for r := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		for s := range 2 {
			ss := rs.ScopeSpans().AppendEmpty()
			for i := range 2 {
				span := ss.Spans().AppendEmpty()
				span.SetTraceID(testTraceID)
				span.SetSpanID(pcommon.SpanID{byte(r), byte(s), byte(i), 1})
				name := string(rune('a'+r)) + string(rune('a'+s)) + string(rune('a'+i))
				span.SetName(name)
				wantNames = append(wantNames, name)
			}
		}
	}

	got, err := Spans(td)
	if err != nil {
		t.Fatalf("Spans: %v", err)
	}
	var gotNames []string
	for _, s := range got {
		gotNames = append(gotNames, s.Name)
	}
	if !reflect.DeepEqual(gotNames, wantNames) {
		t.Errorf("span names = %v, want %v", gotNames, wantNames)
	}
}

func TestSpansRootSpanHasEmptyParent(t *testing.T) {
	td, _ := newTestTraces()
	span := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	span.SetParentSpanID(pcommon.NewSpanIDEmpty())

	got, err := Spans(td)
	if err != nil {
		t.Fatalf("Spans: %v", err)
	}
	if got[0].ParentSpanID != "" {
		t.Errorf("ParentSpanID = %q, want empty", got[0].ParentSpanID)
	}
}

func TestSpansLinkWithZeroIDs(t *testing.T) {
	td, _ := newTestTraces()
	link := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Links().At(0)
	link.SetTraceID(pcommon.NewTraceIDEmpty())
	link.SetSpanID(pcommon.NewSpanIDEmpty())

	got, err := Spans(td)
	if err != nil {
		t.Fatalf("Spans: %v", err)
	}
	if got[0].Links[0].TraceID != "" {
		t.Errorf("link TraceID = %q, want empty", got[0].Links[0].TraceID)
	}
	if got[0].Links[0].SpanID != "" {
		t.Errorf("link SpanID = %q, want empty", got[0].Links[0].SpanID)
	}
}

func TestSpansKinds(t *testing.T) {
	tests := []struct {
		kind ptrace.SpanKind
		want string
	}{
		{ptrace.SpanKindUnspecified, "INTERNAL"},
		{ptrace.SpanKindInternal, "INTERNAL"},
		{ptrace.SpanKindServer, "SERVER"},
		{ptrace.SpanKindClient, "CLIENT"},
		{ptrace.SpanKindProducer, "PRODUCER"},
		{ptrace.SpanKindConsumer, "CONSUMER"},
	}
	for _, tt := range tests {
		td, _ := newTestTraces()
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetKind(tt.kind)

		got, err := Spans(td)
		if err != nil {
			t.Fatalf("Spans with kind %v: %v", tt.kind, err)
		}
		if got[0].Kind != tt.want {
			t.Errorf("kind %v: Kind = %q, want %q", tt.kind, got[0].Kind, tt.want)
		}
	}
}

func TestSpansStatusCodes(t *testing.T) {
	tests := []struct {
		code ptrace.StatusCode
		want string
	}{
		{ptrace.StatusCodeUnset, "UNSET"},
		{ptrace.StatusCodeOk, "OK"},
		{ptrace.StatusCodeError, "ERROR"},
	}
	for _, tt := range tests {
		td, _ := newTestTraces()
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Status().SetCode(tt.code)

		got, err := Spans(td)
		if err != nil {
			t.Fatalf("Spans with status code %v: %v", tt.code, err)
		}
		if got[0].StatusCode != tt.want {
			t.Errorf("status code %v: StatusCode = %q, want %q", tt.code, got[0].StatusCode, tt.want)
		}
	}
}

func TestSpansInvalidSpans(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(ptrace.Span)
		wantMsg string
	}{
		{
			name:    "missing trace id",
			modify:  func(s ptrace.Span) { s.SetTraceID(pcommon.NewTraceIDEmpty()) },
			wantMsg: "resourceSpans[1].scopeSpans[0].spans[1].traceId is missing or all zeros",
		},
		{
			name:    "missing span id",
			modify:  func(s ptrace.Span) { s.SetSpanID(pcommon.NewSpanIDEmpty()) },
			wantMsg: "resourceSpans[1].scopeSpans[0].spans[1].spanId is missing or all zeros",
		},
		{
			name:    "unknown kind",
			modify:  func(s ptrace.Span) { s.SetKind(ptrace.SpanKind(9)) },
			wantMsg: "resourceSpans[1].scopeSpans[0].spans[1].kind 9 is not a valid SpanKind",
		},
		{
			name:    "unknown status code",
			modify:  func(s ptrace.Span) { s.Status().SetCode(ptrace.StatusCode(7)) },
			wantMsg: "resourceSpans[1].scopeSpans[0].spans[1].status.code 7 is not a valid StatusCode",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			first, _ := newTestTraces()
			first.ResourceSpans().At(0).CopyTo(td.ResourceSpans().AppendEmpty())
			second, _ := newTestTraces()
			rs := td.ResourceSpans().AppendEmpty()
			second.ResourceSpans().At(0).CopyTo(rs)
			spans := rs.ScopeSpans().At(0).Spans()
			spans.At(0).CopyTo(spans.AppendEmpty())
			tt.modify(spans.At(1))

			_, err := Spans(td)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Spans error = %v, want one wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Spans error = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestSpansZeroTraces(t *testing.T) {
	got, err := Spans(ptrace.Traces{})
	if err != nil {
		t.Fatalf("Spans: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("Spans returned %d spans, want 0", len(got))
	}
}

func TestSpansValueTypes(t *testing.T) {
	td, _ := newTestTraces()
	attrs := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
	attrs.Clear()

	attrs.PutStr("str", "text")
	attrs.PutInt("int", -9007199254740993)
	attrs.PutDouble("double", 1e-7)
	attrs.PutBool("bool", false)
	attrs.PutEmpty("empty")
	attrs.PutEmptyBytes("bytes").FromRaw([]byte{0x00, 0xff, 0x10})

	nested := attrs.PutEmptySlice("nested")
	inner := nested.AppendEmpty().SetEmptySlice()
	inner.AppendEmpty().SetInt(1)
	inner.AppendEmpty().SetStr("two")
	nested.AppendEmpty().SetDouble(3.5)
	nested.AppendEmpty()
	nested.AppendEmpty().SetEmptyBytes().FromRaw([]byte("raw"))

	kvlist := attrs.PutEmptyMap("kvlist")
	kvlist.PutStr("role", "user")
	kvlist.PutEmptyMap("meta").PutBool("cached", true)
	kvlist.PutEmptySlice("ids").AppendEmpty().SetInt(7)
	kvlist.PutEmpty("none")

	attrs.PutEmptySlice("empty_array")
	attrs.PutEmptyMap("empty_kvlist")

	got, err := Spans(td)
	if err != nil {
		t.Fatalf("Spans: %v", err)
	}
	want := []bijotel.Attribute{
		{Key: "str", Value: "text"},
		{Key: "int", Value: int64(-9007199254740993)},
		{Key: "double", Value: 1e-7},
		{Key: "bool", Value: false},
		{Key: "empty", Value: nil},
		{Key: "bytes", Value: []byte{0x00, 0xff, 0x10}},
		{Key: "nested", Value: []any{
			[]any{int64(1), "two"},
			3.5,
			nil,
			[]byte("raw"),
		}},
		{Key: "kvlist", Value: map[string]any{
			"role": "user",
			"meta": map[string]any{"cached": true},
			"ids":  []any{int64(7)},
			"none": nil,
		}},
		{Key: "empty_array", Value: []any{}},
		{Key: "empty_kvlist", Value: map[string]any{}},
	}
	if !reflect.DeepEqual(got[0].Attributes, want) {
		t.Errorf("Attributes:\n got %#v\nwant %#v", got[0].Attributes, want)
	}
}

func TestSpansBytesValueIsCopied(t *testing.T) {
	td, _ := newTestTraces()
	attrs := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
	attrs.PutEmptyBytes("bytes").FromRaw([]byte{1, 2, 3})

	got, err := Spans(td)
	if err != nil {
		t.Fatalf("Spans: %v", err)
	}
	value, _ := attrs.Get("bytes")
	value.Bytes().SetAt(0, 9)

	last := got[0].Attributes[len(got[0].Attributes)-1]
	if !reflect.DeepEqual(last.Value, []byte{1, 2, 3}) {
		t.Errorf("bytes attribute = %v after changing the pdata value, want [1 2 3]", last.Value)
	}
}
