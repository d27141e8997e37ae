// Package otelbedrock records Amazon Bedrock Converse and ConverseStream
// calls made with github.com/aws/aws-sdk-go-v2/service/bedrockruntime as
// GenAI spans.
//
// The instrumentation is a client option that adds middleware to the SDK's
// operation stack. The middleware reads the typed ConverseInput,
// ConverseStreamInput and ConverseOutput, and the raw event stream of a
// ConverseStream response:
//
//	client := bedrockruntime.NewFromConfig(cfg,
//		otelbedrock.Instrument(genai.WithTracerProvider(tp)))
//
// Each span has operation chat, provider aws.bedrock and the model ID as
// the request model. It records the inferenceConfig parameters, and top_k
// from additionalModelRequestFields, where Anthropic models take it. The
// system blocks and the messages are recorded with toolUse and toolResult
// blocks as tool_call and tool_call_response parts, and the toolSpec tools
// are the tool definitions. From the reply the span records the stop
// reason, the token usage and aws.request_id. Bedrock's responses have
// no response ID and name no model, so gen_ai.response.id and
// gen_ai.response.model are absent. The finish reasons are recorded as
// Bedrock sends them, such as end_turn; each output message's
// finish_reason is the conventions' value, such as stop or tool_call.
//
// # Token usage
//
// Bedrock's inputTokens counts only the input that was neither read from
// nor written to the prompt cache. gen_ai.usage.input_tokens is inputTokens
// plus cacheReadInputTokens plus cacheWriteInputTokens, and the two cache
// counts are also recorded as the cache read and cache creation counts.
// A ConverseStream reply carries usage once, in its final metadata event; a
// stream without it is recorded with bijotel.usage.missing instead of zero
// counts.
//
// # Span lifecycle
//
// One span covers one operation, the SDK's retries included: the span
// starts after the SDK validated the input and ends with the final
// attempt's outcome, with http.request.resend_count when the SDK retried.
// An error ends the span with error.type set to the service's error code,
// such as ThrottlingException or InternalServerException, and
// http.response.header.retry-after when the response has a Retry-After
// header.
//
// A ConverseStream span ends exactly once: at the end of the event stream,
// on a read error, on an exception message such as throttlingException, or
// when the stream is closed, whichever comes first. The SDK reads the
// event stream ahead of the application on its own goroutine, so the span
// holds the events the SDK received, which can be a few more than the
// application took from the Events channel. A stream closed before its
// final metadata event keeps what was received and carries
// bijotel.response.incomplete. A stream that is never read to its end nor
// closed keeps its span open, because Go has no hook for an abandoned
// stream.
//
// NOTE: bedrockruntime v1.63.13 with smithy-go v1.28.9 decodes the event
// streams of one client with one shared decoder, so concurrent
// ConverseStream calls on one client race inside the SDK, with or without
// this package. Give each goroutine that streams a client of its own;
// clients may share one configuration through InstrumentWithConfig.
package otelbedrock
