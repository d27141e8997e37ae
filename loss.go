package bijotel

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrSpansLost is wrapped by every LossError.
var ErrSpansLost = errors.New("spans lost before sealing")

// Reasons for which spans are lost, the keys of "reasons" in a loss entry.
const (
	// LossQueueFull counts spans that OnEnd dropped because the queue was
	// full.
	LossQueueFull = "queue_full"
	// LossWriteFailed counts spans whose batch failed to commit within the
	// retry budget.
	LossWriteFailed = "write_failed"
	// LossEncodeFailed counts spans that could not be converted or encoded.
	LossEncodeFailed = "encode_failed"
	// LossShutdown counts spans still queued when Close or Shutdown gave up
	// because its context ended. They are never sealed in a loss entry,
	// because the writer has stopped.
	LossShutdown = "shutdown"
)

// LossError reports spans that were dropped. The Sealer passes one to
// otel.Handle for each loss entry it seals, and for losses it cannot seal
// when it closes.
type LossError struct {
	// LostSpans is the number of spans lost.
	LostSpans int64
	// Reasons counts the lost spans by reason, such as LossQueueFull.
	Reasons map[string]int64
	// FirstEndTimeNS and LastEndTimeNS are the earliest and latest end
	// times of the lost spans, in nanoseconds since the Unix epoch.
	FirstEndTimeNS uint64
	LastEndTimeNS  uint64
	// Seq is the seq of the loss entry that records the loss, or 0 when it
	// could not be sealed.
	Seq int64
	// Err is the write error that caused or prevented the sealing, if any.
	Err error
}

func (e *LossError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d spans lost before sealing (%s)", e.LostSpans, formatReasons(e.Reasons))
	if e.Seq > 0 {
		fmt.Fprintf(&b, ", recorded in loss entry seq=%d", e.Seq)
	} else {
		b.WriteString(", not recorded in the chain")
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns ErrSpansLost and Err.
func (e *LossError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrSpansLost}
	}
	return []error{ErrSpansLost, e.Err}
}

func formatReasons(reasons map[string]int64) string {
	parts := make([]string, 0, len(reasons))
	for _, k := range slices.Sorted(maps.Keys(reasons)) {
		parts = append(parts, k+"="+strconv.FormatInt(reasons[k], 10))
	}
	return strings.Join(parts, " ")
}

// lossCounter counts lost spans by reason with the range of their end
// times. The zero value is empty.
type lossCounter struct {
	spans          int64
	queueFull      int64
	writeFailed    int64
	encodeFailed   int64
	shutdown       int64
	firstEndTimeNS uint64
	lastEndTimeNS  uint64
}

func (l *lossCounter) add(reason string, n int64, firstEndNS, lastEndNS uint64) {
	if n <= 0 {
		return
	}
	switch reason {
	case LossQueueFull:
		l.queueFull += n
	case LossWriteFailed:
		l.writeFailed += n
	case LossEncodeFailed:
		l.encodeFailed += n
	case LossShutdown:
		l.shutdown += n
	}
	if l.spans == 0 || firstEndNS < l.firstEndTimeNS {
		l.firstEndTimeNS = firstEndNS
	}
	if l.spans == 0 || lastEndNS > l.lastEndTimeNS {
		l.lastEndTimeNS = lastEndNS
	}
	l.spans += n
}

func (l *lossCounter) addSpan(reason string, endNS uint64) {
	l.add(reason, 1, endNS, endNS)
}

func (l *lossCounter) merge(o lossCounter) {
	for reason, n := range o.reasons() {
		l.add(reason, n, o.firstEndTimeNS, o.lastEndTimeNS)
	}
}

func (l *lossCounter) reasons() map[string]int64 {
	m := make(map[string]int64, 4)
	for reason, n := range map[string]int64{
		LossQueueFull:    l.queueFull,
		LossWriteFailed:  l.writeFailed,
		LossEncodeFailed: l.encodeFailed,
		LossShutdown:     l.shutdown,
	} {
		if n > 0 {
			m[reason] = n
		}
	}
	return m
}

// record returns the loss entry for l, sealed with time at.
func (l *lossCounter) record(at time.Time) (Record, error) {
	reasons := make(map[string]any, 4)
	for reason, n := range l.reasons() {
		reasons[reason] = n
	}
	return EventRecord(LossEntryName, map[string]any{
		"lost_spans": l.spans,
		// Times are decimal strings, as in span bodies, because nanosecond
		// timestamps exceed the integers that JSON numbers carry exactly.
		"first_end_time_ns": strconv.FormatUint(l.firstEndTimeNS, 10),
		"last_end_time_ns":  strconv.FormatUint(l.lastEndTimeNS, 10),
		"reasons":           reasons,
	}, at)
}

func (l *lossCounter) error(seq int64, cause error) *LossError {
	return &LossError{
		LostSpans:      l.spans,
		Reasons:        l.reasons(),
		FirstEndTimeNS: l.firstEndTimeNS,
		LastEndTimeNS:  l.lastEndTimeNS,
		Seq:            seq,
		Err:            cause,
	}
}
