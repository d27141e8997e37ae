package otelcohere

import (
	"context"
	"io"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/internal/httpbody"
)

// accumulator builds a genai.Response from what the provider sent. Its
// methods are the httpbody.Accumulator functions of the same names.
type accumulator interface {
	event(name string, data []byte)
	response() (genai.Response, bool)
	complete(eof bool) bool
	failure() error
}

// newBody wraps a response body so that the call's span ends exactly once:
// at the end of the body, on a read error, or on Close, whichever comes
// first. The application reads the provider's bytes unchanged. Read and
// Close may run on different goroutines.
func newBody(ctx context.Context, rc io.ReadCloser, call *genai.Call, acc accumulator, stream bool) *httpbody.Body {
	funcs := httpbody.Accumulator{Event: acc.event, Response: acc.response, Complete: acc.complete, Failure: acc.failure}
	return httpbody.NewReply(ctx, rc, call, funcs, httpbody.Format{
		Stream:              stream,
		ParseJSONOnEarlyEnd: true,
		// The Cohere SDK hands each data line to the application once the
		// line is complete, without waiting for the blank line that ends
		// the event. So a body closed before that blank line still records
		// the event; a data line cut short is not recorded.
		DispatchOnEarlyEnd: true,
	})
}
