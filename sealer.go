package bijotel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// ErrSealerClosed is returned by Seal and Flush after Close has begun.
var ErrSealerClosed = errors.New("sealer is closed")

// Sealer commits records to a Chain for many goroutines at once. A writer,
// two goroutines started by NewSealer, takes the queued records in order and
// commits them in batches, one Chain.Append transaction each, so records
// handed over at about the same time share one commit and its fsync (group
// commit). The Processor queues SDK spans on the same queue without waiting;
// the writer converts and encodes them. Memory is bounded by the queue size
// and the two batches that the writer holds while it encodes one and
// commits the other.
//
// A failed commit is retried under the RetryPolicy. Append is
// all-or-nothing, so a batch is never written twice. When the budget runs
// out, the spans of the batch are dropped and counted, and Seal callers of
// the batch get the error. The Sealer counts every dropped span and seals the
// count in a loss entry (LossEntryName) with the next commit that succeeds.
//
// All methods are safe for concurrent use. A Sealer never closes its chain.
type Sealer struct {
	chain  *Chain
	cfg    sealerConfig
	logger *slog.Logger

	// wake nudges the writer without blocking; it has room for one nudge.
	wake chan struct{}
	// cancelWriter interrupts the writer's commit and retries when Close
	// gives up.
	cancelWriter context.CancelFunc
	stopped      chan struct{}
	closeOnce    sync.Once

	// Counters read by Stats without taking mu.
	committed atomic.Int64
	batches   atomic.Int64
	retries   atomic.Int64
	filtered  atomic.Int64

	mu sync.Mutex
	// queue[head:] contains the items not yet taken by the writer, in order.
	// The item queue[head+i] has the ticket taken+i+1.
	queue []queued
	head  int
	// used is the weight of the queue: one per span, one per Seal record.
	used     int
	enqueued uint64 // tickets issued
	taken    uint64 // tickets taken by the writer
	started  uint64 // tickets whose batch the committer has started
	done     uint64 // tickets whose batch is committed or failed
	// room is closed, and set to nil, when the writer frees room in the
	// queue. Goroutines waiting for room create it.
	room chan struct{}
	// stalled is set when OnEnd timed out waiting for room, and cleared by
	// the next successful commit. stallToLog makes the writer log the stall.
	stalled    bool
	stallToLog bool
	closing    bool
	waiters    []*waiter
	// flushTo is the largest ticket a waiter needs committed, and
	// lossAwaited the largest lossSeq a waiter needs sealed. The writer
	// commits without waiting for a full batch until both are reached.
	flushTo     uint64
	lossAwaited uint64

	// loss counts spans dropped and waiting for a loss entry. lossSeq
	// increases whenever losses are added to it, and lossSealed is the
	// lossSeq that the last sealed loss entry covers.
	loss              lossCounter
	lossSeq           uint64
	lossSealed        uint64
	lostTotal         int64
	lossSealedEntries int64
	ignored           int64
	// lossRetryAt delays the next commit of a loss entry alone after a
	// failed commit.
	lossRetryAt time.Time
	// inFlight counts the batches taken and not yet settled.
	inFlight int
	// closeFailed is set when a commit fails after Close has begun: the
	// writer then stops writing.
	closeFailed bool
	// closeErr is the error Close returns once the writer has stopped.
	closeErr error
}

// queued is one item of the queue: a span from the Processor or the records
// of one Seal call.
type queued struct {
	span sdktrace.ReadOnlySpan
	req  *sealRequest
}

type sealRequest struct {
	records []Record
	// canceled is set, under Sealer.mu, when Seal's context ended before the
	// commit of the request started. The writer then leaves it out.
	canceled bool
}

// waiter is a Seal or Flush call waiting for the tickets from..to to be
// committed and, when lossSeq is not 0, for the losses counted up to lossSeq
// to be sealed.
type waiter struct {
	from, to uint64
	lossSeq  uint64
	err      error
	done     chan struct{}
}

// SealerStats are counters of a Sealer since it was created.
type SealerStats struct {
	// Queued is the number of spans and records in the queue, without the
	// two batches the writer may hold.
	Queued int
	// Committed counts the records committed, loss entries included.
	Committed int64
	// Batches counts the transactions committed.
	Batches int64
	// Retries counts the commit attempts repeated after a failure.
	Retries int64
	// Filtered counts the spans that the filter rejected.
	Filtered int64
	// LostSpans counts all spans dropped, sealed in a loss entry or not.
	LostSpans int64
	// UnsealedLostSpans counts the dropped spans waiting for a loss entry,
	// without those in a commit in progress.
	UnsealedLostSpans int64
	// LossEntries counts the loss entries committed.
	LossEntries int64
	// Ignored counts the spans handed over after Close began. They are not
	// lost spans, because the SDK's SpanProcessor contract requires such
	// calls to be ignored.
	Ignored int64
}

// NewSealer starts a Sealer that writes to c. The caller keeps owning c and
// must close it only after Close has returned.
func NewSealer(c *Chain, opts ...SealerOption) (*Sealer, error) {
	cfg := newSealerConfig()
	for _, o := range opts {
		o.applySealer(&cfg)
	}
	return newSealer(c, cfg)
}

func newSealer(c *Chain, cfg sealerConfig) (*Sealer, error) {
	if c == nil {
		return nil, errors.New("new sealer: chain is nil: pass a chain from bijotel.Open")
	}
	if c.readOnly {
		return nil, fmt.Errorf("new sealer for %s: %w: open it with bijotel.Open", c.path, ErrReadOnly)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new sealer for %s: %w", c.path, err)
	}
	logger := cfg.logger
	if logger == nil {
		logger = c.logger
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Sealer{
		chain:        c,
		cfg:          cfg,
		logger:       logger,
		wake:         make(chan struct{}, 1),
		cancelWriter: cancel,
		stopped:      make(chan struct{}),
		queue:        make([]queued, 0, min(cfg.queueSize, 4096)),
	}
	go s.run(ctx)
	return s, nil
}

// Seal commits records and returns once they are durable, or once they
// failed to commit within the retry budget. Records handed over by
// concurrent calls share transactions. The records of one call are
// committed in order, in one transaction, so they are committed all or none.
// Seal does not modify records, and the caller must not modify them before
// Seal returns.
//
// Seal waits for room in the queue while ctx allows; a call with more
// records than the queue size waits for the queue to empty. If ctx ends
// before the commit of the records has started, Seal returns ctx.Err() and
// the records are never committed. Once it has started, Seal waits for the
// outcome, which takes at most the retry budget, so that a nil error always
// means committed and any other error means not committed. It returns
// ErrSealerClosed after Close has begun.
func (s *Sealer) Seal(ctx context.Context, records []Record) error {
	if len(records) == 0 {
		return nil
	}
	req := &sealRequest{records: records}
	w := &waiter{done: make(chan struct{})}

	s.mu.Lock()
	if err := s.waitRoomLocked(len(records), nil, ctx.Done()); err != nil {
		s.mu.Unlock()
		if errors.Is(err, ErrSealerClosed) {
			return err
		}
		return ctx.Err()
	}
	s.pushLocked(queued{req: req}, len(records))
	w.from, w.to = s.enqueued, s.enqueued
	s.addWaiterLocked(w)
	s.mu.Unlock()
	s.nudge()

	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
	}

	// Withdraw the records if their commit has not started yet.
	s.mu.Lock()
	if w.to > s.started {
		if w.to > s.taken {
			s.used -= len(records)
			s.signalRoomLocked()
		}
		req.canceled = true
		s.removeWaiterLocked(w)
		s.mu.Unlock()
		return ctx.Err()
	}
	s.mu.Unlock()
	<-w.done
	return w.err
}

// Flush returns once everything handed over before the call is committed and
// every span lost before the call is sealed in a loss entry, or once ctx
// ends. It returns an error when some of those spans or records failed to
// commit, or the loss entry failed to commit, and ErrSealerClosed after Close
// has begun.
func (s *Sealer) Flush(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrSealerClosed
	}
	if s.done == s.enqueued && s.lossSealed == s.lossSeq {
		s.mu.Unlock()
		return nil
	}
	w := &waiter{from: s.done + 1, to: s.enqueued, lossSeq: s.lossSeq, done: make(chan struct{})}
	s.addWaiterLocked(w)
	s.mu.Unlock()
	s.nudge()

	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		s.mu.Lock()
		s.removeWaiterLocked(w)
		s.mu.Unlock()
		return ctx.Err()
	}
}

// Close stops accepting records, commits everything queued, seals the count
// of lost spans and stops the writer. It does not close the chain.
//
// If ctx ends first, Close interrupts the commit in progress and drops what
// is still queued, and Seal callers get an error. It reports the spans it
// could not seal to otel.Handle and the logger. It returns once the writer
// has stopped, which takes at most the end of the commit in progress. The
// error joins ctx.Err() and a LossError for spans lost and not sealed. Later calls wait for the writer
// to stop, or for their own ctx to end, and return nil or ctx.Err().
func (s *Sealer) Close(ctx context.Context) error {
	first := false
	s.closeOnce.Do(func() { first = true })
	if !first {
		select {
		case <-s.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	s.mu.Lock()
	s.closing = true
	s.signalRoomLocked()
	s.mu.Unlock()
	s.nudge()

	var ctxErr error
	select {
	case <-s.stopped:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		s.cancelWriter()
		<-s.stopped
	}
	s.cancelWriter()

	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(ctxErr, s.closeErr)
}

// Stats returns the counters of s. It is safe to call at any time, also
// after Close.
func (s *Sealer) Stats() SealerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SealerStats{
		Queued:            s.used,
		Committed:         s.committed.Load(),
		Batches:           s.batches.Load(),
		Retries:           s.retries.Load(),
		Filtered:          s.filtered.Load(),
		LostSpans:         s.lostTotal,
		UnsealedLostSpans: s.loss.spans,
		LossEntries:       s.lossSealedEntries,
		Ignored:           s.ignored,
	}
}

// enqueueSpan queues span for the writer without blocking, unless the queue
// is full under FullQueueBlock. A span that finds no room is counted as
// lost.
func (s *Sealer) enqueueSpan(span sdktrace.ReadOnlySpan) {
	s.mu.Lock()
	if s.closing {
		s.ignored++
		s.mu.Unlock()
		return
	}
	if s.used >= s.cfg.queueSize && !s.waitRoomForSpanLocked() {
		s.addLossLocked(LossQueueFull, 1, unixNanos(span.EndTime()), unixNanos(span.EndTime()))
		s.mu.Unlock()
		s.nudge()
		return
	}
	before := s.used
	s.pushLocked(queued{span: span}, 1)
	// The writer starts its batch timer on the first item, and commits at
	// once when a batch is full.
	wake := before == 0 || (before < s.cfg.batchSize && s.used >= s.cfg.batchSize)
	s.mu.Unlock()
	if wake {
		s.nudge()
	}
}

// waitRoomForSpanLocked applies the full-queue policy and reports whether
// there is room for one span now. s.mu is held on entry and on return.
func (s *Sealer) waitRoomForSpanLocked() bool {
	if s.cfg.fullQueue == FullQueueDrop || s.stalled {
		return false
	}
	timer := time.NewTimer(s.cfg.blockTimeout)
	defer timer.Stop()
	err := s.waitRoomLocked(1, timer.C, nil)
	if err == errBlockTimeout {
		// The writer logs the stall, so that OnEnd does no I/O.
		s.stalled = true
		s.stallToLog = true
	}
	return err == nil
}

var errBlockTimeout = errors.New("block timeout")

// waitRoomLocked waits until the queue has room for weight or is empty, so
// that a Seal call larger than the queue gets in alone. s.mu is held on
// entry and on return, and released while waiting. It returns
// errBlockTimeout when timeout fires, ErrSealerClosed when Close begins and
// a non-nil error when ctxDone is closed.
func (s *Sealer) waitRoomLocked(weight int, timeout <-chan time.Time, ctxDone <-chan struct{}) error {
	for {
		if s.closing {
			return ErrSealerClosed
		}
		if s.used == 0 || s.used+weight <= s.cfg.queueSize {
			return nil
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		room := s.room
		s.mu.Unlock()
		var err error
		select {
		case <-room:
		case <-timeout:
			err = errBlockTimeout
		case <-ctxDone:
			err = context.Canceled
		}
		s.mu.Lock()
		if err != nil {
			return err
		}
	}
}

func (s *Sealer) pushLocked(q queued, weight int) {
	s.queue = append(s.queue, q)
	s.used += weight
	s.enqueued++
}

func (s *Sealer) signalRoomLocked() {
	if s.room != nil {
		close(s.room)
		s.room = nil
	}
}

func (s *Sealer) addLossLocked(reason string, n int64, firstEndNS, lastEndNS uint64) {
	if n <= 0 {
		return
	}
	s.loss.add(reason, n, firstEndNS, lastEndNS)
	s.lossSeq++
	s.lostTotal += n
}

func (s *Sealer) addWaiterLocked(w *waiter) {
	s.waiters = append(s.waiters, w)
	s.flushTo = max(s.flushTo, w.to)
	s.lossAwaited = max(s.lossAwaited, w.lossSeq)
}

func (s *Sealer) removeWaiterLocked(w *waiter) {
	for i, x := range s.waiters {
		if x == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			return
		}
	}
}

func (s *Sealer) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (q *queued) weight() int {
	if q.req == nil {
		return 1
	}
	if q.req.canceled {
		// Seal already gave the room back.
		return 0
	}
	return len(q.req.records)
}
