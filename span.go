package bijotel

// Span is one finished span in the form the chain seals it. It is neutral
// about where the span came from: the SDK processor, the OTLP receiver and the
// OTLP/JSON importer all build it, so a span seals to the same body whichever
// path delivered it.
//
// Ids are lowercase hex strings; an absent parent is the empty string. Times
// are nanoseconds since the Unix epoch.
type Span struct {
	TraceID      string
	SpanID       string
	ParentSpanID string

	Name string
	// Kind is the upper-case OpenTelemetry span kind name: INTERNAL, SERVER,
	// CLIENT, PRODUCER or CONSUMER. The empty string seals as INTERNAL.
	Kind string

	StartTimeUnixNano uint64
	EndTimeUnixNano   uint64

	// StatusCode is UNSET, OK or ERROR. The empty string seals as UNSET.
	StatusCode string
	// StatusDescription seals as JSON null when it is empty.
	StatusDescription string

	Attributes []Attribute
	Events     []Event
	Links      []Link

	Resource Resource
	Scope    Scope

	DroppedAttributes int
	DroppedEvents     int
	DroppedLinks      int
}

// Attribute is one key and value of a span, event, link, resource or scope.
//
// Value holds one of: nil, bool, int64, float64, string, []byte, []bool,
// []int64, []float64, []string, []any (elements of these same types) or
// map[string]any (an OTLP key-value list). Other integer types (int, int32,
// uint64 and so on) and float32 are accepted too and sealed as numbers.
// A value of any other type seals as its fmt %v text in a tagged object, so a
// span is never rejected for its attribute types.
type Attribute struct {
	Key   string
	Value any
}

// Event is a timed event recorded on a span.
type Event struct {
	Name         string
	TimeUnixNano uint64
	Attributes   []Attribute
	// DroppedAttributes counts attributes the SDK discarded on this event.
	DroppedAttributes int
}

// Link is a reference from a span to another span.
type Link struct {
	TraceID    string
	SpanID     string
	TraceState string
	Attributes []Attribute
	// DroppedAttributes counts attributes the SDK discarded on this link.
	DroppedAttributes int
}

// Resource describes the entity that emitted a span, such as a service.
type Resource struct {
	Attributes []Attribute
	SchemaURL  string
}

// Scope is the instrumentation scope (the tracer) that created a span.
type Scope struct {
	Name       string
	Version    string
	SchemaURL  string
	Attributes []Attribute
}
