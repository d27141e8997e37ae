// Package otelopenai records the Chat Completions and Responses API calls
// of the openai-go/v3 client as GenAI spans, through the client's
// middleware hook:
//
//	client := openai.NewClient(option.WithMiddleware(otelopenai.Middleware()))
//
// It works the same for OpenAI-compatible providers reached through
// option.WithBaseURL. gen_ai.provider.name comes from the base URL's host
// (see ProviderForHost), and genai.WithProviderName overrides it, as needed
// for a gateway or a loopback server:
//
//	client := openai.NewClient(
//		option.WithBaseURL("https://api.groq.com/openai/v1"),
//		option.WithMiddleware(otelopenai.Middleware(genai.WithProviderName("groq"))),
//	)
//
// # What a call is
//
// openai-go runs middleware once per HTTP attempt, inside its retry loop, so
// the middleware records one span per attempt. A call that the SDK retries
// after a 429 or a 5xx has one failed span per failed attempt, then the span
// of the last attempt. A retry carries http.request.resend_count (1 for the
// first retry). Each span is complete in itself, which is what a
// tamper-evident log needs: every request that reached the provider is
// recorded. Use option.WithMaxRetries(0) for exactly one span per SDK call,
// or genai.Wrap around the call for one span that covers all attempts.
//
// # What a span records
//
// The middleware reads the request body for the model, max_tokens (or
// max_completion_tokens, or max_output_tokens), temperature, top_p, the
// penalties, seed, stop, n, stream, the messages and the tool definitions.
// It wraps the response body and parses the bytes the application reads,
// JSON or server-sent events, for the response id and model, finish
// reasons, output messages (tool-call arguments parsed, {} when empty, the
// raw text when not valid JSON) and usage. Each usage object in a stream is
// the whole count so far and replaces the previous one. A stream without
// usage (no stream_options.include_usage) gets bijotel.usage.missing=true
// and no gen_ai.usage.* attributes.
//
// The span ends exactly once: at the end of the body, on a read error, or
// when the body is closed, whichever comes first. A stream closed before
// its end gets bijotel.response.incomplete=true with a reason and keeps
// what arrived; a stream whose context was canceled before its end has
// status ERROR with the context's error. An HTTP error response ends the
// span at once with status ERROR, error.type from the body's error type
// (else its code, else the status code), http.response.status_code and
// http.response.header.retry-after.
//
// NOTE: a stream body that the application neither reads to the end nor
// closes leaves its span open, because Go has no finalizer on response
// bodies that could end it; the span is then never exported.
//
// # Driving it from a test
//
// Start a fakeprovider.NewOpenAI server, give the client its URL plus
// "/v1/" as base URL, and pass genai.WithTracerProvider with a
// TracerProvider whose span processor is the one under test (a
// bijotel.Processor seals the spans into a chain). NewMiddleware takes one
// genai.Config shared by several clients.
package otelopenai
