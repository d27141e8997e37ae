package genai

import (
	"context"
	"fmt"
)

// InstrumentationWrap is the bijotel.instrumentation value of spans that
// Wrap records.
const InstrumentationWrap = "wrap"

// ResponseSource is implemented by result types that can describe
// themselves as a Response. Wrap uses it when no extractor is given.
type ResponseSource interface {
	GenAIResponse() Response
}

// Wrap records one LLM call made by any client: it starts a span for req,
// runs call with a context that carries the span, and ends the span exactly
// once with call's result. Use it for clients that have no middleware hook.
//
// A non-nil error from call sets status ERROR and error.type (see
// ErrorType). On success, the first extractor turns the result into the
// recorded Response (usage, response id and model, finish reasons, output
// messages); without one, a result that implements ResponseSource describes
// itself; otherwise the span records only the request and marks the usage
// as missing. A panic in call or in the extractor ends the span with an
// error and is re-raised.
//
// cfg may be nil for the default configuration. req.Instrumentation
// defaults to "wrap", and req.Operation to OperationChat.
//
//	completion, err := genai.Wrap(ctx, cfg, genai.Request{Provider: "openai", Model: "gpt-4o-mini"},
//		func(ctx context.Context) (*openai.ChatCompletion, error) {
//			return client.Chat.Completions.New(ctx, params)
//		}, otelopenai.ChatCompletionResponse)
func Wrap[T any](ctx context.Context, cfg *Config, req Request, call func(context.Context) (T, error), extract ...func(T) Response) (result T, err error) {
	if cfg == nil {
		cfg = defaultConfig()
	}
	if req.Instrumentation == "" {
		req.Instrumentation = InstrumentationWrap
	}
	if req.Operation == "" {
		req.Operation = OperationChat
	}
	ctx, c := cfg.Start(ctx, req)

	// A panic ends the span with an error before it goes on up the stack.
	defer func() {
		if p := recover(); p != nil {
			c.End(&panicError{value: p})
			panic(p)
		}
	}()

	result, err = call(ctx)
	if err != nil {
		c.End(err)
		return result, err
	}
	switch {
	case len(extract) > 0 && extract[0] != nil:
		c.Respond(extract[0](result))
	default:
		if src, ok := any(result).(ResponseSource); ok {
			c.Respond(src.GenAIResponse())
		}
	}
	c.End(nil)
	return result, nil
}

// defaultConfig returns the configuration of NewConfig without options.
func defaultConfig() *Config {
	return &Config{mode: CaptureContent, maxContentBytes: DefaultMaxContentBytes}
}

var _ TypedError = (*panicError)(nil)

// panicError records a panic that escaped a wrapped call.
type panicError struct {
	value any
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// ErrorType returns "panic".
func (e *panicError) ErrorType() string { return "panic" }
