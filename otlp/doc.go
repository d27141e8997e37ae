// Package otlp decodes OpenTelemetry Protocol (OTLP) trace data into
// [bijotel.Span] values, so that spans received over OTLP/HTTP or read from
// the OpenTelemetry Collector's file exporter seal exactly like spans from
// the SDK processor.
//
// Decoding uses go.opentelemetry.io/collector/pdata. OTLP/JSON encodes trace
// and span ids as hex, not as the base64 that the generic protobuf JSON
// mapping uses, and a generic decoder would turn a hex id into bytes of the
// wrong length without an error.
//
// Every error caused by the input wraps [ErrInvalid] and names the field and
// its position, such as resourceSpans[0].scopeSpans[1].spans[2].traceId.
//
// # Conversion
//
// Ids become lowercase hex. A span must have a trace id and a span id that
// are not all zeros. An absent or all-zero parent span id becomes the empty
// string, and so do absent ids of a link, because OpenTelemetry records links
// to an invalid span context when they have attributes or a trace state.
//
// The span kind becomes INTERNAL, SERVER, CLIENT, PRODUCER or CONSUMER, and
// SPAN_KIND_UNSPECIFIED becomes INTERNAL because the OTLP specification lets
// receivers assume INTERNAL. The status code becomes UNSET, OK or ERROR. An
// enum value outside these lists is rejected.
//
// Attribute values keep their OTLP type: string, int64, float64, bool,
// []byte, []any for an array and map[string]any for a key-value list. An
// empty value becomes nil. Attribute lists keep their order and duplicates,
// but a key-value list inside a value keeps only the last of duplicate keys.
//
// The span's trace state and flags, the flags of links and the dropped
// attribute counts of the resource and the scope are not carried over,
// because [bijotel.Span] has no field for them.
//
// OTLP once named scopeSpans instrumentationLibrarySpans. A protobuf sender
// from that time may put spans in field 1000 of ResourceSpans, and this
// package reads that field when scope_spans of the same resource is empty, as
// pdata v1.71.0 does in its OTLP receivers. In OTLP/JSON, pdata reads that
// field under the key deprecatedScopeSpans with the same rule, but ignores the
// key instrumentationLibrarySpans. [DecodeJSON] rejects a request that has
// spans under that key, so that they are not lost without an error.
package otlp
