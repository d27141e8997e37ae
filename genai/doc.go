// Package genai records LLM client calls as OpenTelemetry spans that follow
// the GenAI semantic conventions (attribute keys of semconv v1.41.0), with
// one content policy for every provider instrumentation.
//
// A provider instrumentation starts a Call with a Request, fills in the
// Response as the provider's reply arrives, and ends the Call exactly once.
// The span is named "{gen_ai.operation.name} {gen_ai.request.model}", has
// kind CLIENT, and carries error.type when the call failed.
//
// The content policy decides what the span says about prompts and
// completions:
//
//   - CaptureContent (the default) records input and output messages in the
//     GenAI parts format. A text part longer than the size cap is cut at a
//     UTF-8 boundary and marked with "truncated": true, "original_length"
//     (bytes) and "content_sha256" of the whole text.
//   - HashContent replaces the content of every part with its SHA-256, so a
//     holder of the text can later prove what was sent without the span
//     revealing it. See HashText and HashValue for the exact inputs.
//   - OmitContent records no messages at all.
//
// Every span states the policy in effect in the bijotel.content.mode
// attribute, so an auditor knows whether an absent message means "not
// captured" or "empty".
package genai
