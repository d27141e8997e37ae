package otelanthropic

import "github.com/anthropics/anthropic-sdk-go/v2/option"

// WithContent returns the client option that makes the SDK's spans record
// prompts and completions: gen_ai.system_instructions,
// gen_ai.input.messages, gen_ai.output.messages and the stop sequences. It
// is option.WithOpenTelemetryTracesContentMode with the SDK's content mode,
// which caps the content of one span at 750,000 bytes by default.
func WithContent() option.RequestOption {
	return option.WithOpenTelemetryTracesContentMode(option.OpenTelemetryContentModeContent)
}
