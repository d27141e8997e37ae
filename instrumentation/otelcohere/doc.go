// Package otelcohere records Cohere v2 chat calls made with the Go SDK
// github.com/cohere-ai/cohere-go/v2, or with any HTTP client, as GenAI
// spans.
//
// The instrumentation is an http.RoundTripper. It records every POST to a
// URL ending in /v2/chat, plain or streamed, and passes other requests
// through:
//
//	import (
//		cohereclient "github.com/cohere-ai/cohere-go/v2/v2"
//		"github.com/cohere-ai/cohere-go/v2/option"
//	)
//
//	co := cohereclient.NewClient(
//		option.WithToken(os.Getenv("CO_API_KEY")),
//		option.WithHTTPClient(otelcohere.NewHTTPClient(nil, genai.WithTracerProvider(tp))),
//	)
//
// Each span has operation chat, provider cohere, the request model and the
// sampling parameters, of which k is top_k and p is top_p. The messages are
// recorded with tool_calls as tool_call parts, tool messages as
// tool_call_response parts and an assistant's tool_plan as a reasoning
// part. The tools are the tool definitions. From the reply the span records
// the response id, the finish reason and the token usage. Cohere's
// responses name no model, so gen_ai.response.model is absent. The finish
// reasons are recorded as Cohere sends them, such as COMPLETE or
// TOOL_CALL; each output message's finish_reason is the conventions' value,
// such as stop or tool_call.
//
// # Token usage
//
// Cohere reports usage twice. usage.tokens counts every token the model
// read and wrote, the prompt template that Cohere wraps around the
// messages included; usage.billed_units counts the tokens Cohere charges
// for, without the template. The span records usage.tokens, because
// gen_ai.usage.input_tokens counts what the model processed, and falls back
// to billed_units only when a response has no tokens object. Usage arrives
// once, in the JSON reply or in the stream's message-end event. A stream
// without it is recorded with bijotel.usage.missing instead of zero counts.
//
// # Span lifecycle
//
// A call's span ends exactly once: when the response body reaches its end,
// on a read error, or when the body is closed, whichever comes first. A
// stream is whole when its message-end event arrived; closed before that,
// the span keeps what was read and carries bijotel.response.incomplete. A
// message-end with finish_reason ERROR ends the span with error.type ERROR.
// An HTTP error ends the span at once with error.type set to the status
// code, such as 429, and http.response.header.retry-after when the
// response has a Retry-After header. The SDK's Stream.Close closes the body.
// A body that is never read to its end nor closed keeps its span open,
// because Go has no hook for an abandoned body.
//
// Each HTTP attempt is one span. The SDK retries a 429, a 408 and every
// 5xx response (two attempts by default), and every attempt is a span of
// its own; option.WithMaxAttempts(1) turns retries off.
package otelcohere
