package httpbody

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/bijotel/bijotel-go/genai"
)

// Accumulator builds a genai.Response from a provider's reply as it
// arrives. NewReply never calls its functions concurrently.
type Accumulator struct {
	// Event applies one server-sent event. For a JSON body it is called once
	// with the whole body and an empty name.
	Event func(name string, data []byte)
	// Response returns the reply as far as it was received, and false when
	// nothing of it was understood.
	Response func() (genai.Response, bool)
	// Complete reports whether the whole reply was received. eof is true
	// when the body was read to its end.
	Complete func(eof bool) bool
	// Failure returns the error that the provider reported in-band, or nil.
	Failure func() error
}

// Format describes a reply body and what NewReply parses of a body that ends
// early: on Close or on a read error, before io.EOF. The zero value is a JSON
// body that is parsed only at io.EOF.
type Format struct {
	// Stream is true for a text/event-stream body, whose events go to
	// Accumulator.Event one at a time. Otherwise the body is buffered and
	// goes to Event whole.
	Stream bool
	// ParseJSONOnEarlyEnd hands a buffered body to Event also when the body
	// ends early. A reader that stops after the closing brace of a JSON body
	// never gets io.EOF.
	ParseJSONOnEarlyEnd bool
	// DispatchOnEarlyEnd dispatches, when a stream ends early, the event
	// whose data lines have arrived, as a blank line would. A line without
	// its line end is dropped.
	DispatchOnEarlyEnd bool
	// FlushAfterOverflow dispatches the pending event at io.EOF even after
	// the stream went past MaxBuffered. That event holds the data that
	// arrived before parsing stopped, which may pass MaxBuffered or end
	// inside a line.
	FlushAfterOverflow bool
	// OverflowReason is the incomplete reason when the body or one event
	// went past MaxBuffered. When empty it is "response larger than
	// MaxBuffered bytes was not parsed", with the number written out.
	OverflowReason string
	// InvalidJSONReason is the incomplete reason when a buffered body was
	// read to io.EOF but Complete returns false. When empty it is the
	// reason a stream gets: "response ended before its final event".
	InvalidJSONReason string
}

// NewReply returns a Body that parses the reply in rc with acc as the
// application reads it. When the body ends (at io.EOF, on a read error or on
// Close, whichever comes first), it records the response on call and ends
// call, as Outcome.End does. ctx is the call's context: when it has ended and
// the reply is incomplete, its error becomes the call's error.
func NewReply(ctx context.Context, rc io.ReadCloser, call *genai.Call, acc Accumulator, format Format) *Body {
	r := &reply{ctx: ctx, call: call, acc: acc, format: format}
	r.sse.OnEvent = acc.Event
	return New(rc, r.write, r.end)
}

// reply is the state of one NewReply body. Body runs its methods one at a
// time, so it has no lock.
type reply struct {
	ctx    context.Context
	call   *genai.Call
	acc    Accumulator
	format Format

	sse      SSEParser
	buf      bytes.Buffer
	overflow bool
}

// write parses the events in p, or buffers p for a JSON body.
func (r *reply) write(p []byte) {
	if r.overflow {
		return
	}
	if r.format.Stream {
		if !r.sse.Feed(p) {
			r.overflow = true
		}
		return
	}
	if r.buf.Len()+len(p) > MaxBuffered {
		r.overflow = true
		r.buf = bytes.Buffer{}
		return
	}
	r.buf.Write(p)
}

// end hands acc what the body left unparsed, then records the response and
// ends the call.
func (r *reply) end(readErr error, eof bool) {
	if r.format.Stream {
		r.drainStream(eof)
	} else if r.buf.Len() > 0 && (eof || r.format.ParseJSONOnEarlyEnd) {
		// An overflow empties buf, so a body past MaxBuffered is not parsed.
		r.acc.Event("", r.buf.Bytes())
		r.buf = bytes.Buffer{}
	}

	resp, ok := r.acc.Response()
	o := Outcome{
		Response:    resp,
		HasResponse: ok,
		ReadErr:     readErr,
		EOF:         eof,
		Complete:    r.acc.Complete(eof),
		Failure:     r.acc.Failure(),
	}
	if r.overflow {
		o.ParseStopped = r.format.OverflowReason
		if o.ParseStopped == "" {
			o.ParseStopped = fmt.Sprintf("response larger than %d bytes was not parsed", MaxBuffered)
		}
	}
	if !r.format.Stream {
		o.EOFReason = r.format.InvalidJSONReason
	}
	o.End(r.ctx, r.call)
}

// drainStream dispatches the event that the stream left pending, when
// Format sets that for the way the stream ended.
func (r *reply) drainStream(eof bool) {
	switch {
	case r.overflow && !(eof && r.format.FlushAfterOverflow):
		// Parsing stopped at MaxBuffered, so no event is pending.
	case eof:
		r.sse.Flush()
	case r.format.DispatchOnEarlyEnd:
		r.sse.Dispatch()
	}
}

// Outcome is the state of a reply body when it ended: the response received
// so far and the way the body ended.
type Outcome struct {
	// Response is the reply as far as it was received. It is recorded only
	// when HasResponse is true.
	Response    genai.Response
	HasResponse bool
	// ReadErr is the read error that ended the body, or nil.
	ReadErr error
	// EOF is true when the body was read to its end.
	EOF bool
	// Complete is true when the whole reply was received.
	Complete bool
	// ParseStopped, when set, is the reason that parsing stopped before the
	// end of the body, such as a body past MaxBuffered.
	ParseStopped string
	// EOFReason is the incomplete reason when the body was read to its end
	// without the whole reply. When empty it is "response ended before its
	// final event".
	EOFReason string
	// Failure is the error that the provider reported in-band, or nil.
	Failure error
}

// End records o.Response on call, marks call incomplete with the first
// reason that stopped the reply short, and ends call. The call's error is
// ReadErr, else ctx's error when ctx has ended and the reply is incomplete,
// else Failure.
func (o Outcome) End(ctx context.Context, call *genai.Call) {
	if o.HasResponse {
		call.Respond(o.Response)
	}

	var err error
	switch {
	case o.ReadErr != nil:
		err = o.ReadErr
		call.MarkIncomplete("read error before the end of the response")
	case !o.Complete && ctx.Err() != nil:
		err = ctx.Err()
		call.MarkIncomplete("context ended before the end of the response")
	case o.ParseStopped != "":
		call.MarkIncomplete(o.ParseStopped)
	case !o.Complete && o.EOF && o.EOFReason != "":
		call.MarkIncomplete(o.EOFReason)
	case !o.Complete && o.EOF:
		call.MarkIncomplete("response ended before its final event")
	case !o.Complete:
		call.MarkIncomplete("closed before the end of the response")
	}
	if err == nil {
		err = o.Failure
	}
	call.End(err)
}
