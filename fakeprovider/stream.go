package fakeprovider

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request headers that steer every fake beside the model name. They keep
// the request body exactly as an application would send it.
const (
	// HeaderScenario names a recorded transcript to replay, one of the
	// Scenario* constants. The fake replies with the transcript's events
	// byte for byte instead of building a reply.
	HeaderScenario = "X-Fake-Scenario"
	// HeaderHoldAfter is a count of stream events. After sending that many,
	// the fake sends nothing more and keeps the response open until the
	// client disconnects or maxHold passes. It lets a test stop reading a
	// stream at a known event: without it, one read may deliver every event
	// the server has already flushed.
	HeaderHoldAfter = "X-Fake-Hold-After"
)

// maxHold bounds how long a held stream stays open, so that a client that
// never disconnects does not keep the server busy.
const maxHold = 30 * time.Second

// streamHold counts the events of one streamed reply and applies
// HeaderHoldAfter to them, whatever their wire format.
type streamHold struct {
	ctx  context.Context
	hold int // -1 when the request sets no hold
	sent int
	done bool
}

func newStreamHold(r *http.Request) streamHold {
	hold := -1
	if v := r.Header.Get(HeaderHoldAfter); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			hold = n
		}
	}
	return streamHold{ctx: r.Context(), hold: hold}
}

// proceed reports whether another event may be sent. At the hold count it
// calls flush to send what was written, then blocks until the client goes
// away or maxHold passes.
func (h *streamHold) proceed(flush func()) bool {
	if h.done {
		return false
	}
	if h.hold < 0 || h.sent < h.hold {
		return true
	}
	h.done = true
	flush()
	timer := time.NewTimer(maxHold)
	defer timer.Stop()
	select {
	case <-h.ctx.Done():
	case <-timer.C:
	}
	return false
}

// eventStream writes the server-sent events of one streamed reply, honouring
// HeaderHoldAfter.
type eventStream struct {
	sse *sseWriter
	streamHold
}

func newEventStream(w http.ResponseWriter, r *http.Request) *eventStream {
	return &eventStream{sse: newSSE(w), streamHold: newStreamHold(r)}
}

// send writes one event with the given name (empty for a data-only event)
// and reports whether it was written.
func (s *eventStream) send(name, data string) bool {
	if !s.ready() {
		return false
	}
	s.sse.event(name, data)
	s.sent++
	return true
}

// sendRaw writes one event given as its exact wire text, without the blank
// line that ends it.
func (s *eventStream) sendRaw(block string) bool {
	if !s.ready() {
		return false
	}
	s.sse.w.Write([]byte(block + "\n\n"))
	s.flush()
	s.sent++
	return true
}

// ready reports whether another event may be sent. At the hold count it
// flushes what was written, then blocks until the client goes away.
func (s *eventStream) ready() bool {
	return s.proceed(s.flush)
}

func (s *eventStream) flush() {
	if s.sse.f != nil {
		s.sse.f.Flush()
	}
}

// transcriptEvents splits an SSE transcript into its events, each as its
// exact wire text without the blank line that ends it.
func transcriptEvents(transcript string) []string {
	var events []string
	for _, block := range strings.Split(strings.TrimSpace(transcript), "\n\n") {
		if block = strings.TrimSpace(block); block != "" {
			events = append(events, block)
		}
	}
	return events
}

// splitWords cuts text before each space, so that the pieces join back to
// text exactly.
func splitWords(text string) []string {
	var pieces []string
	for len(text) > 0 {
		i := strings.IndexByte(text[1:], ' ')
		if i < 0 {
			pieces = append(pieces, text)
			break
		}
		pieces = append(pieces, text[:i+1])
		text = text[i+1:]
	}
	return pieces
}

// splitMidToken cuts s into n pieces of nearly equal byte length, so that a
// JSON text is split inside names and values, as providers split streamed
// tool arguments. It never cuts inside a UTF-8 sequence.
func splitMidToken(s string, n int) []string {
	if n <= 1 || len(s) <= n {
		return []string{s}
	}
	var pieces []string
	size := (len(s) + n - 1) / n
	for len(s) > 0 {
		end := min(size, len(s))
		for end < len(s) && end > 0 && s[end]&0xC0 == 0x80 {
			end++
		}
		pieces = append(pieces, s[:end])
		s = s[end:]
	}
	return pieces
}

// mustJSON encodes a value built from maps, slices and scalars, which
// cannot fail.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("fakeprovider: encode reply: " + err.Error())
	}
	return string(b)
}
