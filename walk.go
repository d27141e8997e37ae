package bijotel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"

	"golang.org/x/sync/errgroup"
)

// LossEntryName is the span_name of the non-span entry a writer seals when
// it had to drop spans. Its body holds the number of spans lost in
// "lost_spans".
const LossEntryName = "bijotel.loss"

// Reasons reported for a broken entry. The first three are Python BIJOTEL's.
const (
	reasonCanonical = "canonical_hash mismatch (body tampered)"
	reasonPrev      = "prev_hash mismatch (chain broken)"
	reasonHMAC      = "hmac_hash mismatch (entry forged, or wrong secret)"
	reasonGenesis   = "first entry's prev_hash is not the genesis hash (64 zeros)"
)

// batch is a run of consecutive entries and, once a worker has hashed them,
// the verdict on each entry's own hashes and columns.
type batch struct {
	entries []Entry
	// problems[i] is the first failure of entries[i] that needs no other
	// entry to detect, or "" when it has none.
	problems []string
	// isSpan[i] tells whether entries[i] has a span body.
	isSpan []bool
	done   chan struct{}
}

type walker struct {
	chain          *Chain
	secret         []byte
	cfg            *verifyConfig
	rep            *Report
	requireGenesis bool

	observedHead string
}

// run verifies entries from..to. Reading, hashing and linking run as a
// pipeline: one goroutine reads batches, workers hash them in parallel, and
// this goroutine checks the links between entries in seq order. The number
// of batches in flight is bounded, so memory does not grow with the chain.
func (w *walker) run(ctx context.Context, from, to int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)

	inFlight := 2 * w.cfg.workers
	toHash := make(chan *batch, inFlight)
	ordered := make(chan *batch, inFlight)

	// Reader: batches in seq order, each queued for hashing and for linking.
	g.Go(func() error {
		defer close(toHash)
		defer close(ordered)
		b := newBatch(w.cfg.batchSize)
		flush := func() error {
			select {
			case ordered <- b:
			case <-gctx.Done():
				return gctx.Err()
			}
			select {
			case toHash <- b:
			case <-gctx.Done():
				return gctx.Err()
			}
			b = newBatch(w.cfg.batchSize)
			return nil
		}
		err := w.chain.Scan(gctx, from, to, func(e *Entry) error {
			// The batch takes the body's buffer; scanning the next row then
			// allocates a new one instead of overwriting it.
			b.entries = append(b.entries, *e)
			e.CanonicalBody = nil
			if len(b.entries) == cap(b.entries) {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(b.entries) > 0 {
			return flush()
		}
		return nil
	})

	for range w.cfg.workers {
		g.Go(func() error {
			l := newLinker(w.secret)
			for b := range toHash {
				b.problems = make([]string, len(b.entries))
				b.isSpan = make([]bool, len(b.entries))
				for i := range b.entries {
					b.problems[i], b.isSpan[i] = checkEntry(l, &b.entries[i])
				}
				close(b.done)
			}
			return nil
		})
	}

	// Linker, in this goroutine: the first failure in seq order wins.
	var prev string
	first := true
	for b := range ordered {
		select {
		case <-b.done:
		case <-gctx.Done():
		}
		if gctx.Err() != nil {
			break
		}
		if w.rep.Valid {
			w.link(b, &prev, &first)
			if !w.rep.Valid {
				cancel()
			}
			if w.cfg.progress != nil {
				w.cfg.progress(w.rep.Checked, to-from+1)
			}
		}
	}
	err := g.Wait()
	if !w.rep.Valid {
		// The walk was stopped on purpose; the cancellation is not an error.
		return nil
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

func newBatch(size int) *batch {
	return &batch{entries: make([]Entry, 0, size), done: make(chan struct{})}
}

// link checks each entry of b against the one before it and records the
// first failure in the report.
func (w *walker) link(b *batch, prev *string, first *bool) {
	rep := w.rep
	for i := range b.entries {
		e := &b.entries[i]
		problem := b.problems[i]
		switch {
		case problem == reasonCanonical:
		case *first && w.requireGenesis && e.PrevHash != GenesisHash:
			problem = reasonGenesis
		case !*first && e.PrevHash != *prev:
			problem = reasonPrev
		}
		if problem != "" {
			rep.fail(&BrokenError{Seq: e.Seq, Reason: problem})
			return
		}

		if rep.Checked == 0 {
			rep.From = e.Seq
		}
		rep.To = e.Seq
		rep.Checked++
		rep.Head = e.HMACHash
		if e.Seq == w.cfg.headSeq {
			w.observedHead = e.HMACHash
		}
		countEntry(rep, e, b.isSpan[i])
		*prev = e.HMACHash
		*first = false
	}
}

// checkEntry returns the first failure of e that needs no other entry to
// detect (its canonical hash, its HMAC over the stored prev_hash, and its
// columns against its body) and whether e has a span body.
func checkEntry(l *linker, e *Entry) (problem string, isSpan bool) {
	sum := sha256.Sum256(e.CanonicalBody)
	if hex.EncodeToString(sum[:]) != e.CanonicalHash {
		return reasonCanonical, false
	}
	if l.link(e.PrevHash, e.CanonicalHash) != e.HMACHash {
		return reasonHMAC, false
	}
	h, ok := parseSpanHeader(e.CanonicalBody)
	if !ok {
		// Non-span entries carry no copy of their columns.
		return "", false
	}
	return checkColumns(e, &h), true
}

// checkColumns compares the columns of a span entry with its sealed body.
func checkColumns(e *Entry, h *spanHeader) string {
	if h.Name != e.SpanName {
		return "span_name column differs from the sealed body's name"
	}
	if h.Kind != e.SpanKind {
		return "span_kind column differs from the sealed body's kind"
	}
	end, err := strconv.ParseUint(h.EndTimeNS, 10, 64)
	if err != nil || clampNanos(end) != e.TimestampNS {
		return "timestamp_ns column differs from the sealed body's end_time_ns"
	}
	if h.TraceID != nil && *h.TraceID != e.TraceID {
		return "trace_id column differs from the sealed body's trace_id"
	}
	if h.SpanID != nil && *h.SpanID != e.SpanID {
		return "span_id column differs from the sealed body's span_id"
	}
	return ""
}

// countEntry adds a verified entry to the report's tallies.
func countEntry(rep *Report, e *Entry, isSpan bool) {
	if isSpan {
		rep.Spans++
		return
	}
	rep.Events++
	if e.SpanName == LossEntryName {
		var loss struct {
			LostSpans int64 `json:"lost_spans"`
		}
		if json.Unmarshal(e.CanonicalBody, &loss) == nil {
			rep.LossEntries++
			rep.LostSpans += loss.LostSpans
		}
	}
}
