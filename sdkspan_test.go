package bijotel

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func attributeValues(attrs []Attribute) map[string]any {
	m := make(map[string]any, len(attrs))
	for _, a := range attrs {
		m[a.Key] = a.Value
	}
	return m
}

func TestSpanFromSDK(t *testing.T) {
	ctx := context.Background()
	captured := &capturingProcessor{}
	limits := sdktrace.NewSpanLimits()
	limits.EventCountLimit = 2
	limits.LinkCountLimit = 2
	limits.AttributePerEventCountLimit = 1
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(captured),
		sdktrace.WithRawSpanLimits(limits),
		sdktrace.WithResource(resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
			attribute.String("service.name", "checkout"))),
	)
	tr := tp.Tracer("example.com/llm", trace.WithInstrumentationVersion("0.9.1"),
		trace.WithSchemaURL("https://opentelemetry.io/schemas/1.27.0"),
		trace.WithInstrumentationAttributes(attribute.Bool("scope.flag", true)))

	parentCtx, parent := tr.Start(ctx, "agent run")
	traceState, err := trace.ParseTraceState("vendor=value")
	if err != nil {
		t.Fatal(err)
	}
	invalidLinkTarget := trace.NewSpanContext(trace.SpanContextConfig{TraceState: traceState})
	start := time.Unix(1_700_000_000, 123)
	_, child := tr.Start(parentCtx, "chat gpt-4o",
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithTimestamp(start),
		// The SDK keeps the newest links, so the first one is dropped.
		trace.WithLinks(
			trace.Link{SpanContext: parent.SpanContext()},
			trace.Link{SpanContext: parent.SpanContext(), Attributes: []attribute.KeyValue{attribute.String("link.kind", "parent")}},
			trace.Link{SpanContext: invalidLinkTarget, Attributes: []attribute.KeyValue{attribute.Int("link.n", 2)}},
		),
		trace.WithAttributes(
			attribute.Bool("b", true),
			attribute.Int64("i", -7),
			attribute.Float64("f", 0.25),
			attribute.String("gen_ai.request.model", "gpt-4o"),
			attribute.BoolSlice("bs", []bool{true, false}),
			attribute.Int64Slice("is", []int64{1, 2}),
			attribute.Float64Slice("fs", []float64{1.5}),
			attribute.StringSlice("ss", []string{"a", "b"}),
			attribute.ByteSlice("bytes", []byte{0, 255}),
			attribute.Slice("mixed", attribute.StringValue("x"), attribute.Int64Value(3), attribute.Value{}),
			attribute.Map("m", attribute.String("k", "v1"), attribute.Int("n", 1), attribute.String("k", "v2")),
		))
	// The SDK keeps the newest events, so the first one is dropped.
	child.AddEvent("e0", trace.WithTimestamp(start))
	child.AddEvent("first token", trace.WithTimestamp(start.Add(time.Millisecond)),
		trace.WithAttributes(attribute.Int("index", 0), attribute.String("dropped", "over the limit of 1")))
	child.AddEvent("e2", trace.WithTimestamp(start.Add(2*time.Millisecond)))
	child.SetStatus(codes.Error, "upstream timeout")
	child.End(trace.WithTimestamp(start.Add(time.Second)))
	parent.End()

	spans := captured.spans()
	if len(spans) != 2 {
		t.Fatalf("captured %d spans, want 2", len(spans))
	}
	got := SpanFromSDK(spans[0])
	root := SpanFromSDK(spans[1])

	sc := child.SpanContext()
	if got.TraceID != sc.TraceID().String() || len(got.TraceID) != 32 || strings.ToLower(got.TraceID) != got.TraceID {
		t.Errorf("TraceID = %q, want lowercase hex %s", got.TraceID, sc.TraceID())
	}
	if got.SpanID != sc.SpanID().String() || len(got.SpanID) != 16 {
		t.Errorf("SpanID = %q, want %s", got.SpanID, sc.SpanID())
	}
	if got.ParentSpanID != parent.SpanContext().SpanID().String() {
		t.Errorf("ParentSpanID = %q, want %s", got.ParentSpanID, parent.SpanContext().SpanID())
	}
	if root.ParentSpanID != "" || root.Kind != "INTERNAL" || root.StatusCode != "UNSET" {
		t.Errorf("root span: parent %q kind %q status %q, want \"\", INTERNAL, UNSET", root.ParentSpanID, root.Kind, root.StatusCode)
	}
	if got.Name != "chat gpt-4o" || got.Kind != "PRODUCER" {
		t.Errorf("Name, Kind = %q, %q, want chat gpt-4o, PRODUCER", got.Name, got.Kind)
	}
	if got.StatusCode != "ERROR" || got.StatusDescription != "upstream timeout" {
		t.Errorf("status = %q %q, want ERROR upstream timeout", got.StatusCode, got.StatusDescription)
	}
	if got.StartTimeUnixNano != uint64(start.UnixNano()) || got.EndTimeUnixNano != uint64(start.Add(time.Second).UnixNano()) {
		t.Errorf("times = %d..%d, want %d..%d", got.StartTimeUnixNano, got.EndTimeUnixNano, start.UnixNano(), start.Add(time.Second).UnixNano())
	}

	wantAttrs := map[string]any{
		"b":                    true,
		"i":                    int64(-7),
		"f":                    0.25,
		"gen_ai.request.model": "gpt-4o",
		"bs":                   []bool{true, false},
		"is":                   []int64{1, 2},
		"fs":                   []float64{1.5},
		"ss":                   []string{"a", "b"},
		"bytes":                []byte{0, 255},
		"mixed":                []any{"x", int64(3), nil},
		"m":                    map[string]any{"k": "v2", "n": int64(1)},
	}
	if a := attributeValues(got.Attributes); !reflect.DeepEqual(a, wantAttrs) {
		t.Errorf("Attributes = %#v\nwant %#v", a, wantAttrs)
	}

	wantEvents := []Event{
		{Name: "first token", TimeUnixNano: uint64(start.Add(time.Millisecond).UnixNano()),
			Attributes: []Attribute{{Key: "index", Value: int64(0)}}, DroppedAttributes: 1},
		{Name: "e2", TimeUnixNano: uint64(start.Add(2 * time.Millisecond).UnixNano())},
	}
	if !reflect.DeepEqual(got.Events, wantEvents) || got.DroppedEvents != 1 {
		t.Errorf("Events = %+v (%d dropped)\nwant %+v (1 dropped)", got.Events, got.DroppedEvents, wantEvents)
	}

	wantLinks := []Link{
		{TraceID: parent.SpanContext().TraceID().String(), SpanID: parent.SpanContext().SpanID().String(),
			Attributes: []Attribute{{Key: "link.kind", Value: "parent"}}},
		{TraceID: "", SpanID: "", TraceState: "vendor=value", Attributes: []Attribute{{Key: "link.n", Value: int64(2)}}},
	}
	if !reflect.DeepEqual(got.Links, wantLinks) || got.DroppedLinks != 1 {
		t.Errorf("Links = %+v (%d dropped)\nwant %+v (1 dropped)", got.Links, got.DroppedLinks, wantLinks)
	}

	if got.Resource.SchemaURL != "https://opentelemetry.io/schemas/1.26.0" || attributeValues(got.Resource.Attributes)["service.name"] != "checkout" {
		t.Errorf("Resource = %+v, want service.name checkout with schema 1.26.0", got.Resource)
	}
	wantScope := Scope{Name: "example.com/llm", Version: "0.9.1", SchemaURL: "https://opentelemetry.io/schemas/1.27.0",
		Attributes: []Attribute{{Key: "scope.flag", Value: true}}}
	if !reflect.DeepEqual(got.Scope, wantScope) {
		t.Errorf("Scope = %+v\nwant %+v", got.Scope, wantScope)
	}

	// The converted span encodes without error.
	if _, err := SpanRecord(&got); err != nil {
		t.Errorf("SpanRecord: %v", err)
	}
}

func TestSpanFromSDKDroppedAttributes(t *testing.T) {
	captured := &capturingProcessor{}
	limits := sdktrace.NewSpanLimits()
	limits.AttributeCountLimit = 2
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(captured), sdktrace.WithRawSpanLimits(limits))
	_, span := tp.Tracer("t").Start(context.Background(), "s",
		trace.WithAttributes(attribute.Int("a", 1), attribute.Int("b", 2), attribute.Int("c", 3)))
	span.End()
	got := SpanFromSDK(captured.spans()[0])
	if len(got.Attributes) != 2 || got.DroppedAttributes != 1 {
		t.Errorf("%d attributes, %d dropped, want 2 and 1", len(got.Attributes), got.DroppedAttributes)
	}
}

func TestUnixNanos(t *testing.T) {
	tests := []struct {
		in   time.Time
		want uint64
	}{
		{time.Time{}, 0},
		{time.Unix(-1, 0), 0},
		{time.Unix(0, 0), 0},
		{time.Unix(1, 5), 1_000_000_005},
	}
	for _, tt := range tests {
		if got := unixNanos(tt.in); got != tt.want {
			t.Errorf("unixNanos(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
