package genai

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// Operation names of gen_ai.operation.name.
const (
	OperationChat            = "chat"
	OperationGenerateContent = "generate_content"
	OperationTextCompletion  = "text_completion"
	OperationEmbeddings      = "embeddings"
	OperationExecuteTool     = "execute_tool"
)

// Attribute keys that bijotel adds beside the semantic conventions.
const (
	// ContentModeKey records the content policy of the span.
	ContentModeKey = attribute.Key("bijotel.content.mode")
	// UsageMissingKey is true when the provider reported no token usage, as
	// for a stream that did not ask for it. It distinguishes "unknown" from
	// zero tokens.
	UsageMissingKey = attribute.Key("bijotel.usage.missing")
	// IncompleteKey is true when the response was not read to its end, for
	// example a stream closed early by the client.
	IncompleteKey = attribute.Key("bijotel.response.incomplete")
	// IncompleteReasonKey holds the reason the response is incomplete.
	IncompleteReasonKey = attribute.Key("bijotel.response.incomplete_reason")
	// InstrumentationKey names the instrumentation that recorded the span:
	// middleware, http_client, interceptor, wrap or sdk.
	InstrumentationKey = attribute.Key("bijotel.instrumentation")
)

// Request describes the call as the application sent it. Optional numeric
// parameters are pointers so that "not sent" differs from zero.
type Request struct {
	Provider  string
	Operation string
	Model     string

	// Instrumentation names how the call was observed; see
	// InstrumentationKey.
	Instrumentation string

	ServerAddress string
	ServerPort    int

	MaxTokens        *int64
	Temperature      *float64
	TopP             *float64
	TopK             *float64
	FrequencyPenalty *float64
	PresencePenalty  *float64
	Seed             *int64
	StopSequences    []string
	ChoiceCount      *int64
	Stream           bool

	// SystemInstructions are recorded in gen_ai.system_instructions.
	SystemInstructions []Part
	Messages           []Message
	// ToolDefinitions is the JSON-encodable list of tools offered to the
	// model, recorded in gen_ai.tool.definitions.
	ToolDefinitions any
}

// Usage is the token usage a provider reported. Pointers are nil when the
// provider did not report that count.
type Usage struct {
	// InputTokens includes cached input tokens, as the semantic conventions
	// require; instrumentations add them when the provider reports them
	// apart (Anthropic does).
	InputTokens              int64
	OutputTokens             int64
	CacheReadInputTokens     *int64
	CacheCreationInputTokens *int64
	ReasoningOutputTokens    *int64
}

// Response describes the provider's reply.
type Response struct {
	ID            string
	Model         string
	FinishReasons []string
	Messages      []Message
	// Usage is nil when the provider reported none; the span then carries
	// UsageMissingKey instead of zero counts.
	Usage *Usage
}

// Call is one recorded LLM call. Its methods are safe for concurrent use;
// only the first End has an effect.
type Call struct {
	cfg  *Config
	span trace.Span

	mu         sync.Mutex
	ended      bool
	responded  bool
	incomplete string
}

// Start starts the span of a call and returns a context that carries it.
func (c *Config) Start(ctx context.Context, req Request) (context.Context, *Call) {
	provider := c.ProviderName(req.Provider)
	name := req.Operation
	if req.Model != "" {
		name += " " + req.Model
	}
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String(req.Operation),
		semconv.GenAIProviderNameKey.String(provider),
		ContentModeKey.String(c.mode.String()),
	}
	if req.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModel(req.Model))
	}
	if req.Instrumentation != "" {
		attrs = append(attrs, InstrumentationKey.String(req.Instrumentation))
	}
	if req.ServerAddress != "" {
		attrs = append(attrs, semconv.ServerAddress(req.ServerAddress))
		if req.ServerPort > 0 {
			attrs = append(attrs, semconv.ServerPort(req.ServerPort))
		}
	}
	attrs = appendRequestParams(attrs, &req)
	if s, ok := c.encodeMessages(req.Messages); ok {
		attrs = append(attrs, semconv.GenAIInputMessagesKey.String(s))
	}
	if s, ok := c.encodeParts(req.SystemInstructions); ok {
		attrs = append(attrs, semconv.GenAISystemInstructionsKey.String(s))
	}
	if req.ToolDefinitions != nil {
		if s, err := marshalJSON(req.ToolDefinitions); err == nil {
			attrs = append(attrs, semconv.GenAIToolDefinitionsKey.String(s))
		}
	}

	ctx, span := c.tracer().Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, &Call{cfg: c, span: span}
}

func appendRequestParams(attrs []attribute.KeyValue, r *Request) []attribute.KeyValue {
	if r.MaxTokens != nil {
		attrs = append(attrs, semconv.GenAIRequestMaxTokensKey.Int64(*r.MaxTokens))
	}
	if r.Temperature != nil {
		attrs = append(attrs, semconv.GenAIRequestTemperature(*r.Temperature))
	}
	if r.TopP != nil {
		attrs = append(attrs, semconv.GenAIRequestTopP(*r.TopP))
	}
	if r.TopK != nil {
		attrs = append(attrs, semconv.GenAIRequestTopK(*r.TopK))
	}
	if r.FrequencyPenalty != nil {
		attrs = append(attrs, semconv.GenAIRequestFrequencyPenalty(*r.FrequencyPenalty))
	}
	if r.PresencePenalty != nil {
		attrs = append(attrs, semconv.GenAIRequestPresencePenalty(*r.PresencePenalty))
	}
	if r.Seed != nil {
		attrs = append(attrs, semconv.GenAIRequestSeedKey.Int64(*r.Seed))
	}
	if len(r.StopSequences) > 0 {
		attrs = append(attrs, semconv.GenAIRequestStopSequences(r.StopSequences...))
	}
	if r.ChoiceCount != nil && *r.ChoiceCount != 1 {
		attrs = append(attrs, semconv.GenAIRequestChoiceCountKey.Int64(*r.ChoiceCount))
	}
	if r.Stream {
		attrs = append(attrs, semconv.GenAIRequestStream(true))
	}
	return attrs
}

// Span returns the call's span, for attributes an instrumentation adds
// itself.
func (call *Call) Span() trace.Span { return call.span }

// Respond records the provider's reply. A streaming instrumentation may call
// it more than once with the accumulated state; each call replaces the
// response attributes set before.
func (call *Call) Respond(resp Response) {
	call.mu.Lock()
	defer call.mu.Unlock()
	if call.ended {
		return
	}
	call.responded = true
	var attrs []attribute.KeyValue
	if resp.ID != "" {
		attrs = append(attrs, semconv.GenAIResponseID(resp.ID))
	}
	if resp.Model != "" {
		attrs = append(attrs, semconv.GenAIResponseModel(resp.Model))
	}
	if len(resp.FinishReasons) > 0 {
		attrs = append(attrs, semconv.GenAIResponseFinishReasons(resp.FinishReasons...))
	}
	if s, ok := call.cfg.encodeMessages(resp.Messages); ok {
		attrs = append(attrs, semconv.GenAIOutputMessagesKey.String(s))
	}
	if u := resp.Usage; u != nil {
		attrs = append(attrs,
			semconv.GenAIUsageInputTokensKey.Int64(u.InputTokens),
			semconv.GenAIUsageOutputTokensKey.Int64(u.OutputTokens),
			UsageMissingKey.Bool(false),
		)
		if u.CacheReadInputTokens != nil {
			attrs = append(attrs, semconv.GenAIUsageCacheReadInputTokensKey.Int64(*u.CacheReadInputTokens))
		}
		if u.CacheCreationInputTokens != nil {
			attrs = append(attrs, semconv.GenAIUsageCacheCreationInputTokensKey.Int64(*u.CacheCreationInputTokens))
		}
		if u.ReasoningOutputTokens != nil {
			attrs = append(attrs, semconv.GenAIUsageReasoningOutputTokensKey.Int64(*u.ReasoningOutputTokens))
		}
	} else {
		attrs = append(attrs, UsageMissingKey.Bool(true))
	}
	call.span.SetAttributes(attrs...)
}

// MarkIncomplete records that the response was not read to its end, with a
// reason such as "closed before the end of the stream".
func (call *Call) MarkIncomplete(reason string) {
	call.mu.Lock()
	defer call.mu.Unlock()
	if call.ended {
		return
	}
	call.incomplete = reason
}

// End ends the span. A non-nil err sets status ERROR with err's message and
// error.type (see ErrorType). Only the first End has an effect, so an
// instrumentation may call it from every path that can finish a call.
func (call *Call) End(err error) {
	call.mu.Lock()
	if call.ended {
		call.mu.Unlock()
		return
	}
	call.ended = true
	if !call.responded && err == nil {
		call.span.SetAttributes(UsageMissingKey.Bool(true))
	}
	if call.incomplete != "" {
		call.span.SetAttributes(IncompleteKey.Bool(true), IncompleteReasonKey.String(call.incomplete))
	}
	call.mu.Unlock()

	if err != nil {
		if !call.responded {
			call.span.SetAttributes(UsageMissingKey.Bool(true))
		}
		call.span.SetAttributes(semconv.ErrorTypeKey.String(ErrorType(err)))
		call.span.SetStatus(codes.Error, err.Error())
	}
	call.span.End()
}

// TypedError is implemented by errors that know their error.type value,
// such as a provider's "rate_limit_error".
type TypedError interface {
	error
	ErrorType() string
}

// ErrorType returns the error.type value for err: the type an error in its
// chain declares through TypedError, "canceled" or "timeout" for context
// errors, or else the Go type name.
func ErrorType(err error) string {
	var typed TypedError
	switch {
	case errors.As(err, &typed):
		return typed.ErrorType()
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return fmt.Sprintf("%T", err)
}

// HTTPError is a failed HTTP response from a provider. Instrumentations that
// see the response themselves return it, or attach it to the call's error.
type HTTPError struct {
	StatusCode int
	// Type is the provider's error type from the body, when it has one.
	Type string
	// RetryAfter is the Retry-After header, when present.
	RetryAfter string
}

func (e *HTTPError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Type)
	}
	return fmt.Sprintf("HTTP %d", e.StatusCode)
}

// ErrorType returns the provider's error type, or the status code when the
// body named none, as the semantic conventions suggest for HTTP clients.
func (e *HTTPError) ErrorType() string {
	if e.Type != "" {
		return e.Type
	}
	return fmt.Sprint(e.StatusCode)
}
