package bijotel

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// SpanFromSDK converts a span ended by the OpenTelemetry Go SDK. It is safe
// for concurrent use, and the result shares no memory with the span except
// immutable strings.
//
// Ids become lowercase hex. A parent or link id that is not valid (all
// zeros) becomes the empty string, as the otlp package does, so a span seals
// to the same body whether it arrives from the SDK or over OTLP. Attribute
// values keep their Go types: string, int64, float64, bool, []string,
// []int64, []float64, []bool and []byte, with []any for a SLICE value,
// map[string]any for a MAP value (the last of duplicate keys wins) and nil
// for an EMPTY value.
func SpanFromSDK(ro sdktrace.ReadOnlySpan) Span {
	sc := ro.SpanContext()
	status := ro.Status()
	return Span{
		TraceID:      sc.TraceID().String(),
		SpanID:       sc.SpanID().String(),
		ParentSpanID: spanIDHex(ro.Parent().SpanID()),

		Name: ro.Name(),
		Kind: kindName(ro.SpanKind()),

		StartTimeUnixNano: unixNanos(ro.StartTime()),
		EndTimeUnixNano:   unixNanos(ro.EndTime()),

		StatusCode:        statusName(status.Code),
		StatusDescription: status.Description,

		Attributes: attributesFromSDK(ro.Attributes()),
		Events:     eventsFromSDK(ro.Events()),
		Links:      linksFromSDK(ro.Links()),

		Resource: resourceFromSDK(ro.Resource()),
		Scope:    scopeFromSDK(ro.InstrumentationScope()),

		DroppedAttributes: ro.DroppedAttributes(),
		DroppedEvents:     ro.DroppedEvents(),
		DroppedLinks:      ro.DroppedLinks(),
	}
}

func spanIDHex(id trace.SpanID) string {
	if !id.IsValid() {
		return ""
	}
	return id.String()
}

func traceIDHex(id trace.TraceID) string {
	if !id.IsValid() {
		return ""
	}
	return id.String()
}

// kindName returns the upper-case name of kind. The SDK records an
// unspecified kind as INTERNAL, and so does this function.
func kindName(kind trace.SpanKind) string {
	switch kind {
	case trace.SpanKindServer:
		return "SERVER"
	case trace.SpanKindClient:
		return "CLIENT"
	case trace.SpanKindProducer:
		return "PRODUCER"
	case trace.SpanKindConsumer:
		return "CONSUMER"
	}
	return "INTERNAL"
}

func statusName(code codes.Code) string {
	switch code {
	case codes.Ok:
		return "OK"
	case codes.Error:
		return "ERROR"
	}
	return "UNSET"
}

// unixNanos returns t in nanoseconds since the Unix epoch, or 0 for the zero
// time and times before the epoch.
func unixNanos(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	ns := t.UnixNano()
	if ns < 0 {
		return 0
	}
	return uint64(ns)
}

// attributesFromSDK converts attrs in order and returns nil for none.
func attributesFromSDK(attrs []attribute.KeyValue) []Attribute {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]Attribute, len(attrs))
	for i, kv := range attrs {
		out[i] = Attribute{Key: string(kv.Key), Value: valueFromSDK(kv.Value)}
	}
	return out
}

// valueFromSDK returns v as one of the Go types that Attribute documents.
// The As* methods of attribute.Value return copies of slices.
func valueFromSDK(v attribute.Value) any {
	switch v.Type() {
	case attribute.EMPTY:
		return nil
	case attribute.BOOL:
		return v.AsBool()
	case attribute.INT64:
		return v.AsInt64()
	case attribute.FLOAT64:
		return v.AsFloat64()
	case attribute.STRING:
		return v.AsString()
	case attribute.BOOLSLICE:
		return v.AsBoolSlice()
	case attribute.INT64SLICE:
		return v.AsInt64Slice()
	case attribute.FLOAT64SLICE:
		return v.AsFloat64Slice()
	case attribute.STRINGSLICE:
		return v.AsStringSlice()
	case attribute.BYTESLICE:
		return v.AsByteSlice()
	case attribute.SLICE:
		elems := v.AsSlice()
		out := make([]any, len(elems))
		for i, e := range elems {
			out[i] = valueFromSDK(e)
		}
		return out
	case attribute.MAP:
		kvs := v.AsMap()
		out := make(map[string]any, len(kvs))
		for _, kv := range kvs {
			out[string(kv.Key)] = valueFromSDK(kv.Value)
		}
		return out
	default:
		// otel v1.47.0 has no other type. A later one seals as whatever
		// AsInterface returns, because a span is never rejected for its
		// attribute types.
		return v.AsInterface()
	}
}

func eventsFromSDK(events []sdktrace.Event) []Event {
	if len(events) == 0 {
		return nil
	}
	out := make([]Event, len(events))
	for i, e := range events {
		out[i] = Event{
			Name:              e.Name,
			TimeUnixNano:      unixNanos(e.Time),
			Attributes:        attributesFromSDK(e.Attributes),
			DroppedAttributes: e.DroppedAttributeCount,
		}
	}
	return out
}

// linksFromSDK keeps links to an invalid span context, with "" for the ids,
// because the SDK records such a link when it has attributes or a trace
// state.
func linksFromSDK(links []sdktrace.Link) []Link {
	if len(links) == 0 {
		return nil
	}
	out := make([]Link, len(links))
	for i, l := range links {
		out[i] = Link{
			TraceID:           traceIDHex(l.SpanContext.TraceID()),
			SpanID:            spanIDHex(l.SpanContext.SpanID()),
			TraceState:        l.SpanContext.TraceState().String(),
			Attributes:        attributesFromSDK(l.Attributes),
			DroppedAttributes: l.DroppedAttributeCount,
		}
	}
	return out
}

// resourceFromSDK accepts a nil resource, which the SDK's methods treat as
// empty.
func resourceFromSDK(r *resource.Resource) Resource {
	return Resource{
		Attributes: attributesFromSDK(r.Attributes()),
		SchemaURL:  r.SchemaURL(),
	}
}

func scopeFromSDK(s instrumentation.Scope) Scope {
	return Scope{
		Name:       s.Name,
		Version:    s.Version,
		SchemaURL:  s.SchemaURL,
		Attributes: attributesFromSDK(s.Attributes.ToSlice()),
	}
}
