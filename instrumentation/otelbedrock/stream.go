package otelbedrock

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/schemas"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/internal/httpbody"
)

// Sizes of the AWS event stream framing. Every message starts with a
// 12-byte prelude (total length, headers length, prelude CRC) and ends with
// a 4-byte message CRC, so no message is shorter than 16 bytes. The SDK's
// decoder rejects payloads over 16 MiB; maxMessage leaves room for the
// headers beside such a payload.
const (
	minMessage = 16
	maxMessage = 16<<20 + 1<<17
)

// newEventBody wraps the body of a ConverseStream response. It decodes each
// event stream message with the SDK's own decoder as the SDK's reader takes
// it from the body. The call's span ends exactly once: at the end of the
// body, on a read error, or on Close, whichever comes first.
// Read and Close may run on different goroutines: the SDK reads on its own
// goroutine, and the application closes the stream on another.
func newEventBody(ctx context.Context, rc io.ReadCloser, call *genai.Call) *httpbody.Body {
	// A decoder of its own: the client's protocol keeps decoding buffers
	// that the SDK's reader goroutine uses at the same time.
	b := &eventBody{ctx: ctx, call: call, decoder: restjson1.New(nil)}
	return httpbody.New(rc, b.write, b.end)
}

// eventBody is the decoding state behind one newEventBody. httpbody.Body
// runs its methods one at a time, so it has no lock.
type eventBody struct {
	ctx  context.Context
	call *genai.Call

	decoder *restjson1.Protocol
	buf     []byte
	broken  bool
	reply   streamReply
}

// write decodes every whole message once p is added to what came before.
func (b *eventBody) write(p []byte) {
	if b.broken {
		return
	}
	b.buf = append(b.buf, p...)
	b.decode()
}

// decode applies every whole message in buf and keeps the rest. A length
// outside the framing's bounds stops decoding for good, because the message
// boundaries are lost; the application still reads the body unchanged.
func (b *eventBody) decode() {
	off := 0
	for len(b.buf)-off >= 4 {
		total := int(binary.BigEndian.Uint32(b.buf[off:]))
		if total < minMessage || total > maxMessage {
			b.broken = true
			b.buf = nil
			return
		}
		if len(b.buf)-off < total {
			break
		}
		msg := b.buf[off : off+total]
		off += total
		event, err := b.decoder.DeserializeEventMessage(schemas.ConverseStreamOutput, bedrockruntime.TypeRegistry, bytes.NewReader(msg))
		if err != nil {
			b.reply.fail(err)
			continue
		}
		b.reply.apply(event)
	}
	b.buf = append(b.buf[:0], b.buf[off:]...)
}

// end records the response and ends the call. readErr is a failed read, and
// eof is true at the end of the body.
func (b *eventBody) end(readErr error, eof bool) {
	resp, ok := b.reply.response()
	o := httpbody.Outcome{
		Response:    resp,
		HasResponse: ok,
		ReadErr:     readErr,
		EOF:         eof,
		Complete:    b.reply.complete(eof),
	}
	if b.broken {
		o.ParseStopped = "event stream framing was not understood"
	}
	if b.reply.err != nil {
		o.Failure = wrapError(b.reply.err)
	}
	o.End(b.ctx, b.call)
}

// streamReply accumulates the events of a ConverseStream reply.
type streamReply struct {
	role     string
	blocks   map[int32]*blockState
	stop     types.StopReason
	usage    *genai.Usage
	metadata bool
	err      error
	seen     bool
}

// blockState accumulates one content block.
type blockState struct {
	kind     string // "text", "reasoning" or "tool_call"
	text     strings.Builder
	id, name string
}

func (s *streamReply) block(i *int32) *blockState {
	if s.blocks == nil {
		s.blocks = make(map[int32]*blockState)
	}
	index := deref(i)
	if s.blocks[index] == nil {
		s.blocks[index] = &blockState{}
	}
	return s.blocks[index]
}

// fail keeps the first error of the stream: an exception message, such as
// a throttlingException, or a message the decoder rejected.
func (s *streamReply) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

func (s *streamReply) apply(event any) {
	s.seen = true
	switch e := event.(type) {
	case *types.MessageStartEvent:
		s.role = string(e.Role)
	case *types.ContentBlockStartEvent:
		if t, ok := e.Start.(*types.ContentBlockStartMemberToolUse); ok {
			st := s.block(e.ContentBlockIndex)
			st.kind, st.id, st.name = "tool_call", deref(t.Value.ToolUseId), deref(t.Value.Name)
		}
	case *types.ContentBlockDeltaEvent:
		st := s.block(e.ContentBlockIndex)
		switch d := e.Delta.(type) {
		case *types.ContentBlockDeltaMemberText:
			if st.kind == "" {
				st.kind = "text"
			}
			st.text.WriteString(d.Value)
		case *types.ContentBlockDeltaMemberToolUse:
			if st.kind == "" {
				st.kind = "tool_call"
			}
			st.text.WriteString(deref(d.Value.Input))
		case *types.ContentBlockDeltaMemberReasoningContent:
			if t, ok := d.Value.(*types.ReasoningContentBlockDeltaMemberText); ok {
				if st.kind == "" {
					st.kind = "reasoning"
				}
				st.text.WriteString(t.Value)
			}
		}
	case *types.MessageStopEvent:
		s.stop = e.StopReason
	case *types.ConverseStreamMetadataEvent:
		s.metadata = true
		// The metadata event comes once, after messageStop, with the usage
		// of the whole reply.
		s.usage = usage(e.Usage)
	}
}

func (s *streamReply) response() (genai.Response, bool) {
	if !s.seen {
		return genai.Response{}, false
	}
	resp := genai.Response{Usage: s.usage}
	msg := genai.Message{Role: s.role, FinishReason: finishReason(s.stop)}
	if msg.Role == "" {
		msg.Role = "assistant"
	}
	if s.stop == "" {
		msg.FinishReason = ""
	}
	for _, i := range slices.Sorted(maps.Keys(s.blocks)) {
		st := s.blocks[i]
		switch st.kind {
		case "text":
			msg.Parts = append(msg.Parts, genai.TextPart(st.text.String()))
		case "reasoning":
			msg.Parts = append(msg.Parts, genai.ReasoningPart(st.text.String()))
		case "tool_call":
			// Input that is not valid JSON, as when the stream stopped
			// inside it, is kept as the text that arrived.
			msg.Parts = append(msg.Parts, genai.ToolCallPart(st.id, st.name, genai.ToolCallArguments(st.text.String())))
		}
	}
	resp.Messages = []genai.Message{msg}
	if s.stop != "" {
		resp.FinishReasons = []string{string(s.stop)}
	}
	return resp, true
}

// complete reports whether the reply was received whole: the metadata
// event, which Bedrock sends last, arrived, or the body ended after
// messageStop.
func (s *streamReply) complete(eof bool) bool {
	return s.metadata || eof && s.stop != ""
}
