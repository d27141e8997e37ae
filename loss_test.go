package bijotel

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLossCounterRecord(t *testing.T) {
	var l lossCounter
	l.addSpan(LossQueueFull, 300)
	l.add(LossWriteFailed, 4, 100, 500)
	var other lossCounter
	other.addSpan(LossEncodeFailed, 50)
	other.addSpan(LossShutdown, 900)
	l.merge(other)

	if l.spans != 7 || l.firstEndTimeNS != 50 || l.lastEndTimeNS != 900 {
		t.Errorf("counter = %d spans, end times %d..%d, want 7 spans, 50..900", l.spans, l.firstEndTimeNS, l.lastEndTimeNS)
	}
	wantReasons := map[string]int64{LossQueueFull: 1, LossWriteFailed: 4, LossEncodeFailed: 1, LossShutdown: 1}
	if got := l.reasons(); !reflect.DeepEqual(got, wantReasons) {
		t.Errorf("reasons = %v, want %v", got, wantReasons)
	}

	at := time.Unix(0, 1_700_000_000_000_000_123)
	r, err := l.record(at)
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	if r.SpanName != LossEntryName || r.TimestampNS != at.UnixNano() || r.SpanKind != "" || r.TraceID != zeroTraceID {
		t.Errorf("record columns = %q %d %q %q, want %s, the given time, no kind, zero ids", r.SpanName, r.TimestampNS, r.SpanKind, r.TraceID, LossEntryName)
	}
	want := `{"first_end_time_ns":"50","last_end_time_ns":"900","lost_spans":7,"reasons":{"encode_failed":1,"queue_full":1,"shutdown":1,"write_failed":4}}`
	if string(r.Body) != want {
		t.Errorf("body = %s\nwant %s", r.Body, want)
	}
	var parsed lossBody
	if err := json.Unmarshal(r.Body, &parsed); err != nil || parsed.LostSpans != 7 {
		t.Errorf("body parses to %+v, %v, want lost_spans 7", parsed, err)
	}
}

func TestLossCounterIgnoresEmptyAdd(t *testing.T) {
	var l lossCounter
	l.add(LossWriteFailed, 0, 1, 2)
	l.merge(lossCounter{})
	if l != (lossCounter{}) {
		t.Errorf("counter = %+v after adding nothing, want zero", l)
	}
}

func TestLossErrorMessage(t *testing.T) {
	cause := errors.New("disk I/O error")
	sealed := (&lossCounter{spans: 3, queueFull: 3}).error(42, nil)
	unsealed := (&lossCounter{spans: 2, writeFailed: 2}).error(0, cause)

	if got := sealed.Error(); got != "3 spans lost before sealing (queue_full=3), recorded in loss entry seq=42" {
		t.Errorf("sealed Error() = %q", got)
	}
	if got := unsealed.Error(); !strings.Contains(got, "not recorded in the chain: disk I/O error") {
		t.Errorf("unsealed Error() = %q, want it to say the loss is not recorded and give the cause", got)
	}
	if !errors.Is(sealed, ErrSpansLost) || !errors.Is(unsealed, ErrSpansLost) || !errors.Is(unsealed, cause) {
		t.Errorf("LossError does not wrap ErrSpansLost and its cause")
	}
}
