// Package otelgemini records Google Gemini calls made with the Go SDK
// google.golang.org/genai, or with any HTTP client, as GenAI spans.
//
// The instrumentation is an http.RoundTripper. It records every POST to a
// models/{model}:generateContent or :streamGenerateContent URL, of the
// Gemini Developer API or of Vertex AI, and passes other requests through:
//
//	import gg "google.golang.org/genai"
//
//	client, err := gg.NewClient(ctx, &gg.ClientConfig{
//		APIKey:     os.Getenv("GEMINI_API_KEY"),
//		HTTPClient: otelgemini.NewHTTPClient(nil, genai.WithTracerProvider(tp)),
//	})
//
// Each span has operation generate_content and provider gcp.gemini, or
// gcp.vertex_ai for a Vertex AI host or path. The request model comes from
// the URL path. The span records the generationConfig parameters, the
// system instruction and the contents as messages, in which functionCall
// and functionResponse parts become tool_call and tool_call_response parts.
// The function declarations are the tool definitions. From the reply it
// records responseId, modelVersion, the finish reasons and the token
// usage. The response's finish reasons are recorded as Gemini sends them,
// such as STOP; each output message's finish_reason is the conventions'
// value, such as stop or tool_call.
//
// # Token usage
//
// Gemini's promptTokenCount already includes cachedContentTokenCount, which
// is recorded as the cache read count. Thought tokens and the results of
// tool executions fed back to the model are counted apart from the prompt
// and candidates, so gen_ai.usage.input_tokens is promptTokenCount plus
// toolUsePromptTokenCount and gen_ai.usage.output_tokens is
// candidatesTokenCount plus thoughtsTokenCount, which is also recorded as
// the reasoning count. Their sum is Gemini's totalTokenCount.
//
// Every chunk of a stream repeats the cumulative usage so far. The span
// takes the usage of the last chunk that carries one and never adds chunks
// up. A stream whose chunks carry no usage is recorded with
// bijotel.usage.missing instead of zero counts. A stream closed early
// keeps the usage of the last chunk read, which is a lower bound of what
// the model produced.
//
// # Span lifecycle
//
// A call's span ends exactly once: when the response body reaches its end,
// on a read error, or when the body is closed, whichever comes first. A
// body closed before the end marks the span with
// bijotel.response.incomplete and keeps what was read. An HTTP error ends
// the span at once with error.type set to the Google error status, such as
// RESOURCE_EXHAUSTED, and http.response.header.retry-after when the
// response has a Retry-After header or a RetryInfo detail. The SDK closes
// the body when a range over GenerateContentStream ends, by break or
// otherwise. A body that is never read to its end nor closed keeps its
// span open, because Go has no hook for an abandoned body.
//
// Each HTTP attempt is one span. The SDK retries only when HTTPOptions
// sets RetryOptions; then every attempt is a span of its own.
package otelgemini
