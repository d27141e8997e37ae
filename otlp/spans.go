package otlp // import "github.com/bijotel/bijotel-go/otlp"

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	bijotel "github.com/bijotel/bijotel-go"
)

// ErrInvalid is wrapped by every error that invalid trace data causes, so a
// receiver can respond to such requests with HTTP 400 Bad Request.
var ErrInvalid = errors.New("otlp: invalid trace data")

// Spans converts every span of td, in the order of resources, scopes and
// spans in td. The zero Traces value contains no spans.
//
// Spans returns an error wrapping [ErrInvalid] when a span has a missing or
// all-zero trace id or span id, or a kind or status code outside the OTLP
// enums. The error names the field and its position, such as
// resourceSpans[0].scopeSpans[1].spans[2].spanId.
func Spans(td ptrace.Traces) ([]bijotel.Span, error) {
	spans, err := convertTraces(td)
	if err != nil {
		return nil, invalidf("%w", err)
	}
	return spans, nil
}

// convertTraces converts td as Spans does, but its errors do not wrap
// ErrInvalid, so that callers can add their own context first.
func convertTraces(td ptrace.Traces) ([]bijotel.Span, error) {
	if td == (ptrace.Traces{}) {
		return nil, nil
	}

	spans := make([]bijotel.Span, 0, td.SpanCount())
	for ri, rs := range td.ResourceSpans().All() {
		resource := convertResource(rs)
		for si, ss := range rs.ScopeSpans().All() {
			scope := convertScope(ss)
			for i, span := range ss.Spans().All() {
				s, err := convertSpan(span)
				if err != nil {
					return nil, fmt.Errorf("resourceSpans[%d].scopeSpans[%d].spans[%d].%w", ri, si, i, err)
				}
				s.Resource = resource
				s.Scope = scope
				spans = append(spans, s)
			}
		}
	}
	return spans, nil
}

// invalidf returns an error wrapping ErrInvalid whose message is
// "otlp: invalid trace data: " followed by the formatted text. The errors in
// args stay reachable through errors.Is and errors.As.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func convertResource(rs ptrace.ResourceSpans) bijotel.Resource {
	return bijotel.Resource{
		Attributes: convertAttributes(rs.Resource().Attributes()),
		SchemaURL:  rs.SchemaUrl(),
	}
}

func convertScope(ss ptrace.ScopeSpans) bijotel.Scope {
	scope := ss.Scope()
	return bijotel.Scope{
		Name:       scope.Name(),
		Version:    scope.Version(),
		SchemaURL:  ss.SchemaUrl(),
		Attributes: convertAttributes(scope.Attributes()),
	}
}

// convertSpan converts everything of span except its resource and scope.
// An error starts with the name of the invalid field, so the caller can put
// the span's position in front of it.
func convertSpan(span ptrace.Span) (bijotel.Span, error) {
	if span.TraceID().IsEmpty() {
		return bijotel.Span{}, errors.New("traceId is missing or all zeros")
	}
	if span.SpanID().IsEmpty() {
		return bijotel.Span{}, errors.New("spanId is missing or all zeros")
	}
	kind, err := convertKind(span.Kind())
	if err != nil {
		return bijotel.Span{}, err
	}
	status, err := convertStatusCode(span.Status().Code())
	if err != nil {
		return bijotel.Span{}, err
	}

	return bijotel.Span{
		TraceID: span.TraceID().String(),
		SpanID:  span.SpanID().String(),
		// String returns "" for an all-zero id, which marks a root span.
		ParentSpanID: span.ParentSpanID().String(),

		Name: span.Name(),
		Kind: kind,

		StartTimeUnixNano: uint64(span.StartTimestamp()),
		EndTimeUnixNano:   uint64(span.EndTimestamp()),

		StatusCode:        status,
		StatusDescription: span.Status().Message(),

		Attributes: convertAttributes(span.Attributes()),
		Events:     convertEvents(span.Events()),
		Links:      convertLinks(span.Links()),

		DroppedAttributes: int(span.DroppedAttributesCount()),
		DroppedEvents:     int(span.DroppedEventsCount()),
		DroppedLinks:      int(span.DroppedLinksCount()),
	}, nil
}

func convertKind(kind ptrace.SpanKind) (string, error) {
	switch kind {
	case ptrace.SpanKindUnspecified, ptrace.SpanKindInternal:
		return "INTERNAL", nil
	case ptrace.SpanKindServer:
		return "SERVER", nil
	case ptrace.SpanKindClient:
		return "CLIENT", nil
	case ptrace.SpanKindProducer:
		return "PRODUCER", nil
	case ptrace.SpanKindConsumer:
		return "CONSUMER", nil
	default:
		return "", fmt.Errorf("kind %d is not a valid SpanKind: want 0 to 5", int32(kind))
	}
}

func convertStatusCode(code ptrace.StatusCode) (string, error) {
	switch code {
	case ptrace.StatusCodeUnset:
		return "UNSET", nil
	case ptrace.StatusCodeOk:
		return "OK", nil
	case ptrace.StatusCodeError:
		return "ERROR", nil
	default:
		return "", fmt.Errorf("status.code %d is not a valid StatusCode: want 0 to 2", int32(code))
	}
}

func convertEvents(events ptrace.SpanEventSlice) []bijotel.Event {
	if events.Len() == 0 {
		return nil
	}
	out := make([]bijotel.Event, 0, events.Len())
	for _, event := range events.All() {
		out = append(out, bijotel.Event{
			Name:              event.Name(),
			TimeUnixNano:      uint64(event.Timestamp()),
			Attributes:        convertAttributes(event.Attributes()),
			DroppedAttributes: int(event.DroppedAttributesCount()),
		})
	}
	return out
}

// convertLinks keeps links whose ids are all zeros, with "" for those ids,
// because OpenTelemetry SDKs record such a link when it has attributes or a
// trace state.
func convertLinks(links ptrace.SpanLinkSlice) []bijotel.Link {
	if links.Len() == 0 {
		return nil
	}
	out := make([]bijotel.Link, 0, links.Len())
	for _, link := range links.All() {
		out = append(out, bijotel.Link{
			TraceID:           link.TraceID().String(),
			SpanID:            link.SpanID().String(),
			TraceState:        link.TraceState().AsRaw(),
			Attributes:        convertAttributes(link.Attributes()),
			DroppedAttributes: int(link.DroppedAttributesCount()),
		})
	}
	return out
}

// convertAttributes converts attrs in their stored order and keeps duplicate
// keys. It returns nil for an empty map.
func convertAttributes(attrs pcommon.Map) []bijotel.Attribute {
	if attrs.Len() == 0 {
		return nil
	}
	out := make([]bijotel.Attribute, 0, attrs.Len())
	for key, v := range attrs.All() {
		out = append(out, bijotel.Attribute{Key: key, Value: convertValue(v)})
	}
	return out
}

// convertValue returns v as one of the Go types that [bijotel.Attribute]
// documents. A key-value list keeps only the last of duplicate keys.
func convertValue(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeEmpty:
		return nil
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return v.Double()
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeBytes:
		// AsRaw returns a copy, so the span does not share pdata's buffer.
		return v.Bytes().AsRaw()
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		out := make([]any, 0, s.Len())
		for _, elem := range s.All() {
			out = append(out, convertValue(elem))
		}
		return out
	case pcommon.ValueTypeMap:
		m := v.Map()
		out := make(map[string]any, m.Len())
		for key, elem := range m.All() {
			out[key] = convertValue(elem)
		}
		return out
	default:
		// pdata v1.71.0 has no other value type. A later one gets pdata's
		// own conversion, because bijotel seals any Go value and never
		// rejects a span for its attribute types.
		return v.AsRaw()
	}
}
