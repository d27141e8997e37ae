// Package otelanthropic connects the Anthropic Go SDK
// (github.com/anthropics/anthropic-sdk-go/v2) to bijotel.
//
// The SDK records each API call itself: a CLIENT span named after the SDK
// method, such as "anthropic.messages.create", with scope
// "com.anthropic.sdk.go", created through the TracerProvider registered
// with otel.SetTracerProvider or given with the SDK's
// option.WithTracerProvider. The span carries gen_ai.provider.name,
// gen_ai.operation.name, gen_ai.request.model, gen_ai.response.id,
// gen_ai.usage.* and error.type, so bijotel.DefaultFilter seals it. A
// retried call is still one span; the SDK emits none per attempt. bijotel
// adds no span of its own.
//
// Prompts and completions appear only in the SDK's content mode. Turn it on
// with WithContent, or with the environment variable
// ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE=content.
//
// Middleware adds to the SDK's span, without a second span, what bijotel's
// other instrumentations record and the SDK (v2.17.0) does not:
// gen_ai.response.finish_reasons, gen_ai.usage.cache_creation.input_tokens
// under its semantic-convention name (the SDK writes
// gen_ai.usage.cache_write.input_tokens), gen_ai.tool.definitions,
// bijotel.usage.missing, bijotel.instrumentation
// "sdk", the Retry-After of a failed attempt, and a
// bijotel.response.incomplete marker for streams whose events the SDK's
// span records wrongly or drops (see Middleware). It never records content:
// that stays with the SDK's content mode.
//
//	client := anthropic.NewClient(
//		option.WithAPIKey(key),
//		otelanthropic.WithContent(),
//		option.WithMiddleware(otelanthropic.Middleware()),
//	)
//
// To drive it from a test, start a fakeprovider.NewAnthropic server, give
// the client its URL as base URL and the SDK's option.WithTracerProvider
// with the TracerProvider under test (a bijotel.Processor seals the spans
// into a chain). The fake's HeaderScenario replays recorded streams.
//
// NOTE: the SDK's spans have no hash content mode. bijotel.content.mode is
// absent from them, and genai.HashContent cannot be applied: use the SDK's
// metadata-only mode (the default) to keep content out of the chain.
package otelanthropic
