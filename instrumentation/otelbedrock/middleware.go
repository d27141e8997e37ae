package otelbedrock

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/internal/httpbody"
)

// Instrumentation is the bijotel.instrumentation value of the spans.
const Instrumentation = "middleware"

// IDs of the middleware in the SDK's stack.
const (
	initializeID  = "bijotel.otelbedrock.Call"
	deserializeID = "bijotel.otelbedrock.Response"
)

// Instrument returns a client option that records each Converse and
// ConverseStream call as a span, configured by opts. Other operations run
// unrecorded. Invalid opts make every operation fail with the
// configuration error, so that a misconfigured audit log is noticed at the
// first call.
//
//	client := bedrockruntime.NewFromConfig(cfg, otelbedrock.Instrument())
//
// Applying it twice to one client records each call once.
func Instrument(opts ...genai.Option) func(*bedrockruntime.Options) {
	cfg, err := genai.NewConfig(opts...)
	if err != nil {
		err = fmt.Errorf("otelbedrock: %w", err)
		return func(o *bedrockruntime.Options) {
			o.APIOptions = append(o.APIOptions, func(*middleware.Stack) error { return err })
		}
	}
	return InstrumentWithConfig(cfg)
}

// InstrumentWithConfig returns the option of Instrument with a resolved
// configuration, which several clients may share.
func InstrumentWithConfig(cfg *genai.Config) func(*bedrockruntime.Options) {
	return func(o *bedrockruntime.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return addMiddleware(stack, cfg)
		})
	}
}

func addMiddleware(stack *middleware.Stack, cfg *genai.Config) error {
	if _, ok := stack.Initialize.Get(initializeID); ok {
		return nil
	}
	// Initialize runs once per operation, outside the retry loop, and gets
	// the typed input and output. It is added last, so that the SDK has
	// validated the input before a span starts.
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc(initializeID,
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return record(ctx, cfg, in, next)
		}), middleware.After); err != nil {
		return err
	}
	// Deserialize runs once per attempt. Added last, it is the first to see
	// the raw response, before the SDK's deserializers read its body.
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc(deserializeID, observeResponse), middleware.After)
}

// callState carries a recorded call from the Initialize step down to the
// Deserialize step of each attempt.
type callState struct {
	call   *genai.Call
	stream bool
	// owned is set when a stream's body took over ending the call.
	owned bool
}

type callStateKey struct{}

func record(ctx context.Context, cfg *genai.Config, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	var fields converseFields
	stream := false
	switch p := in.Parameters.(type) {
	case *bedrockruntime.ConverseInput:
		fields = converseInput(p)
	case *bedrockruntime.ConverseStreamInput:
		fields, stream = converseStreamInput(p), true
	default:
		return next.HandleInitialize(ctx, in)
	}

	req := genai.Request{
		Provider:        semconv.GenAIProviderNameAWSBedrock.Value.AsString(),
		Operation:       genai.OperationChat,
		Instrumentation: Instrumentation,
		Stream:          stream,
	}
	fields.request(&req)
	ctx, call := cfg.Start(ctx, req)
	st := &callState{call: call, stream: stream}
	ctx = context.WithValue(ctx, callStateKey{}, st)

	out, md, err := next.HandleInitialize(ctx, in)

	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok && id != "" {
		call.Span().SetAttributes(semconv.AWSRequestID(id))
	}
	if results, ok := retry.GetAttemptResults(md); ok && len(results.Results) > 1 {
		call.Span().SetAttributes(semconv.HTTPRequestResendCount(len(results.Results) - 1))
	}
	if err != nil {
		call.End(wrapError(err))
		return out, md, err
	}
	switch o := out.Result.(type) {
	case *bedrockruntime.ConverseOutput:
		call.Respond(converseResponse(o))
		call.End(nil)
	default:
		if !st.owned {
			call.MarkIncomplete("event stream was not observed")
			call.End(nil)
		}
	}
	return out, md, err
}

// observeResponse records the server and status of each attempt, and hands
// the body of a successful ConverseStream response to an eventBody, which
// ends the call.
func observeResponse(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	st, _ := ctx.Value(callStateKey{}).(*callState)
	if st == nil {
		return out, md, err
	}
	span := st.call.Span()
	if req, ok := in.Request.(*smithyhttp.Request); ok && req.URL != nil {
		span.SetAttributes(semconv.ServerAddress(req.URL.Hostname()), semconv.ServerPort(serverPort(req.URL.Scheme, req.URL.Port())))
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.Response == nil {
		return out, md, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if ra := resp.Header.Get("Retry-After"); ra != "" && resp.StatusCode >= 400 {
		span.SetAttributes(httpbody.RetryAfterKey.StringSlice([]string{ra}))
	}
	if err == nil && st.stream && !st.owned && resp.StatusCode < 300 && resp.Body != nil && resp.Body != http.NoBody {
		resp.Body = newEventBody(ctx, resp.Body, st.call)
		st.owned = true
	}
	return out, md, err
}

func serverPort(scheme, port string) int {
	if p, err := strconv.Atoi(port); err == nil {
		return p
	}
	if scheme == "http" {
		return 80
	}
	return 443
}

// apiError is a Bedrock error whose error.type is the error code, such as
// ThrottlingException. It reads like the error it wraps.
type apiError struct {
	err  error
	code string
}

func (e *apiError) Error() string     { return e.err.Error() }
func (e *apiError) Unwrap() error     { return e.err }
func (e *apiError) ErrorType() string { return e.code }

var _ genai.TypedError = (*apiError)(nil)

// wrapError gives err the error code of the service error in its chain as
// error.type. Errors without one, such as a canceled context, are returned
// as they are.
func wrapError(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() != "" {
		return &apiError{err: err, code: api.ErrorCode()}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return &apiError{err: err, code: strconv.Itoa(re.HTTPStatusCode())}
	}
	return err
}
