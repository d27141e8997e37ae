package otelopenai

import (
	"context"
	"fmt"
	"io"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/internal/httpbody"
)

// accumulator builds a genai.Response from what a provider sent. Its
// methods are the httpbody.Accumulator functions of the same names.
type accumulator interface {
	event(name string, data []byte)
	response() (genai.Response, bool)
	complete(eof bool) bool
	failure() error
}

var (
	_ accumulator = (*chatJSON)(nil)
	_ accumulator = (*chatStream)(nil)
	_ accumulator = (*responsesJSON)(nil)
	_ accumulator = (*responsesStream)(nil)
)

// newBody wraps a response body so that the call's span ends exactly once:
// at the end of the body, on a read error, or on Close, whichever comes
// first. The application reads the provider's bytes unchanged.
//
// NOTE: with FlushAfterOverflow, a stream that passes httpbody.MaxBuffered
// and then reaches io.EOF still hands its pending event to the accumulator,
// as far as it was parsed.
func newBody(ctx context.Context, rc io.ReadCloser, call *genai.Call, acc accumulator, stream bool) *httpbody.Body {
	funcs := httpbody.Accumulator{Event: acc.event, Response: acc.response, Complete: acc.complete, Failure: acc.failure}
	return httpbody.NewReply(ctx, rc, call, funcs, httpbody.Format{
		Stream:             stream,
		FlushAfterOverflow: true,
		OverflowReason:     fmt.Sprintf("response or event larger than %d bytes was not parsed", httpbody.MaxBuffered),
		InvalidJSONReason:  "response body is not a valid reply",
	})
}

// streamError is an error that a provider reported inside a stream.
type streamError struct {
	typ     string
	message string
}

func (e *streamError) Error() string {
	if e.message != "" {
		return "stream error " + e.ErrorType() + ": " + e.message
	}
	return "stream error " + e.ErrorType()
}

// ErrorType returns the provider's error type or code, or "stream_error"
// when the event named neither.
func (e *streamError) ErrorType() string {
	if e.typ == "" {
		return "stream_error"
	}
	return e.typ
}

var _ genai.TypedError = (*streamError)(nil)
