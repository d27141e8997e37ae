package bijotel

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The writer is a pipeline of two goroutines, so that encoding one batch
// overlaps with committing the one before. The builder (run) waits until a
// batch is due, takes it from the queue, converts and encodes its spans and
// hands it to the committer goroutine, which commits it and settles the
// waiters in order (commitBatch). Two sealBatch values circulate between
// them, which bounds the records in flight to two batches.

// sealBatch is the work of one transaction: the items taken from the queue,
// the loss count taken with them and the records built from both.
type sealBatch struct {
	items []queued
	// loss is the count of lost spans taken for sealing. It covers the
	// losses counted up to lossUpTo.
	loss     lossCounter
	lossUpTo uint64
	// records holds a slot for the loss entry, then the records of the
	// items. The transaction commits records[recordsFrom:], so recordsFrom
	// is 1 when there is no loss entry.
	records     []Record
	recordsFrom int
	// seals locates the records of each Seal call in records, so that the
	// committer can leave out those withdrawn after the batch was taken.
	seals []sealRange
	// spanLoss counts the spans among records, with reason
	// LossWriteFailed, and encodeLoss the spans that could not be encoded.
	spanLoss   lossCounter
	encodeLoss lossCounter
	res        sealResult
}

type sealRange struct {
	req        *sealRequest
	start, end int
}

// sealResult is the outcome of one batch, for the waiters.
type sealResult struct {
	first, last uint64 // tickets of the batch; last < first when it had none
	err         error  // the commit error
	// lossIncluded is true when the batch carried a loss entry covering the
	// losses counted up to lossUpTo.
	lossIncluded bool
	lossUpTo     uint64
	// encodeFailed holds the tickets of spans that could not be encoded.
	encodeFailed []uint64
	encodeErr    error
}

// run is the builder goroutine of the writer. It returns once Close has
// begun, nothing is left to write and the committer is idle; it then stops
// the committer and closes s.stopped.
func (s *Sealer) run(ctx context.Context) {
	commits := make(chan *sealBatch, 2)
	free := make(chan *sealBatch, 2)
	free <- &sealBatch{}
	free <- &sealBatch{}
	committerDone := make(chan struct{})
	go func() {
		defer close(committerDone)
		for b := range commits {
			s.commitBatch(ctx, b)
			free <- b
			s.nudge()
		}
	}()
	defer func() {
		close(commits)
		<-committerDone
		close(s.stopped)
	}()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	// pendingSince is when the builder first saw work waiting.
	var pendingSince time.Time
	for {
		b := <-free

		s.mu.Lock()
		canWrite := !(s.closing && (s.closeFailed || ctx.Err() != nil))
		if !canWrite {
			s.dropQueueLocked()
		}
		now := time.Now()
		switch {
		case len(s.queue) == s.head && s.loss.spans == 0:
			pendingSince = time.Time{}
		case pendingSince.IsZero():
			pendingSince = now
		}
		due, wait := s.dueLocked(now, pendingSince, canWrite)
		logStall := s.stallToLog
		s.stallToLog = false

		if !due && s.closing && len(s.queue) == s.head && s.inFlight == 0 {
			unsealed := s.stopLocked()
			s.mu.Unlock()
			if unsealed != nil {
				s.logger.LogAttrs(ctx, slog.LevelError, "sealer closed with lost spans not recorded in the chain",
					slog.Int64("lost_spans", unsealed.LostSpans), slog.String("reasons", formatReasons(unsealed.Reasons)))
				otel.Handle(unsealed)
			}
			return
		}
		if !due {
			s.mu.Unlock()
			free <- b
			if logStall {
				s.logStall(ctx)
			}
			if wait > 0 {
				timer.Reset(wait)
			}
			// Once ctx has ended, the committer's nudge ends the wait.
			ctxDone := ctx.Done()
			if ctx.Err() != nil {
				ctxDone = nil
			}
			select {
			case <-s.wake:
			case <-timer.C:
			case <-ctxDone:
			}
			timer.Stop()
			continue
		}

		s.takeLocked(b)
		s.inFlight++
		s.mu.Unlock()
		if logStall {
			s.logStall(ctx)
		}
		pendingSince = time.Time{}
		s.buildBatch(b)
		commits <- b
	}
}

func (s *Sealer) logStall(ctx context.Context) {
	s.logger.LogAttrs(ctx, slog.LevelWarn, "queue full for the block timeout: dropping spans at once until a commit succeeds",
		slog.Duration("block_timeout", s.cfg.blockTimeout), slog.Int("queue_size", s.cfg.queueSize))
}

// dueLocked reports whether the builder should take a batch now and, if
// not, how long to wait before asking again (0: until nudged).
func (s *Sealer) dueLocked(now, pendingSince time.Time, canWrite bool) (bool, time.Duration) {
	if !canWrite {
		return false, 0
	}
	waiting := s.flushTo > s.taken || s.lossAwaited > s.lossSealed
	if len(s.queue) > s.head {
		if s.closing || waiting || s.used >= s.cfg.batchSize {
			return true, 0
		}
	} else {
		if s.loss.spans == 0 {
			return false, 0
		}
		// Only a loss entry to write. Once Close has begun, the writer tries
		// it at once, because it stops after the next failure.
		if now.Before(s.lossRetryAt) && !s.closing {
			return false, s.lossRetryAt.Sub(now)
		}
		if s.closing || waiting {
			return true, 0
		}
	}
	if age := now.Sub(pendingSince); age < s.cfg.batchTimeout {
		return false, s.cfg.batchTimeout - age
	}
	return true, 0
}

// takeLocked moves the oldest items, up to the batch size, and the loss
// count into b. An item is never split, so one Seal call larger than the
// batch size makes a batch of its own.
func (s *Sealer) takeLocked(b *sealBatch) {
	pending := s.queue[s.head:]
	n, weight := 0, 0
	for n < len(pending) {
		w := pending[n].weight()
		if n > 0 && weight+w > s.cfg.batchSize {
			break
		}
		weight += w
		n++
	}
	b.items = append(b.items[:0], pending[:n]...)
	b.res = sealResult{first: s.taken + 1, last: s.taken + uint64(n)}
	clear(pending[:n])
	s.head += n
	switch {
	case s.head == len(s.queue):
		s.queue, s.head = s.queue[:0], 0
	case s.head > cap(s.queue)/2:
		rest := copy(s.queue, s.queue[s.head:])
		clear(s.queue[rest:])
		s.queue, s.head = s.queue[:rest], 0
	}
	s.used -= weight
	s.taken += uint64(n)
	s.signalRoomLocked()

	b.loss, b.lossUpTo = s.loss, s.lossSeq
	s.loss = lossCounter{}
}

// buildBatch converts and encodes the spans of b and lays out its records,
// with the loss entry first because the spans it counts ended before those
// of the batch.
func (s *Sealer) buildBatch(b *sealBatch) {
	b.spanLoss, b.encodeLoss = lossCounter{}, lossCounter{}
	b.seals = b.seals[:0]
	b.records = append(b.records[:0], Record{}) // slot for the loss entry
	for i, q := range b.items {
		if q.req != nil {
			// Whether the request was withdrawn is read under the lock when
			// the commit starts.
			start := len(b.records)
			b.records = append(b.records, q.req.records...)
			b.seals = append(b.seals, sealRange{req: q.req, start: start, end: len(b.records)})
			continue
		}
		endNS := unixNanos(q.span.EndTime())
		r, keep, err := s.spanRecord(q.span)
		switch {
		case err != nil:
			// NOTE: no span known today makes SpanRecord fail, because
			// EncodeSpan seals any value in a tagged form, so tests do not
			// reach this branch.
			b.encodeLoss.addSpan(LossEncodeFailed, endNS)
			b.res.encodeFailed = append(b.res.encodeFailed, b.res.first+uint64(i))
			if b.res.encodeErr == nil {
				b.res.encodeErr = err
			}
		case keep:
			b.records = append(b.records, r)
			b.spanLoss.addSpan(LossWriteFailed, endNS)
		}
	}
	clear(b.items)

	loss := b.loss
	loss.merge(b.encodeLoss)
	b.recordsFrom = 1
	if loss.spans == 0 {
		return
	}
	r, err := loss.record(time.Now())
	if err != nil {
		// Unreachable: the fields are integers, strings and a map of them.
		// The batch then fails as a whole and its spans are counted.
		b.res.err = fmt.Errorf("encode loss entry: %w", err)
		return
	}
	b.records[0] = r
	b.recordsFrom = 0
	b.res.lossIncluded, b.res.lossUpTo = true, b.lossUpTo
}

// commitBatch commits the records of b, settles the counters and the
// waiters, and reports failures and sealed losses. It runs in the committer
// goroutine, one batch at a time, in the order the builder took them.
func (s *Sealer) commitBatch(ctx context.Context, b *sealBatch) {
	res := &b.res
	s.mu.Lock()
	s.started = max(s.started, res.last)
	s.dropWithdrawnLocked(b)
	s.mu.Unlock()

	var appended Appended
	records := len(b.records) - b.recordsFrom
	if records > 0 && res.err == nil {
		appended, res.err = s.commit(ctx, b.records[b.recordsFrom:])
	}
	clear(b.records)
	clear(b.seals)

	s.mu.Lock()
	s.inFlight--
	s.done = max(s.done, res.last)
	var sealed *LossError
	if res.err == nil {
		if records > 0 {
			s.committed.Add(int64(records))
			s.batches.Add(1)
		}
		s.stalled = false
		s.lostTotal += b.encodeLoss.spans
		if res.lossIncluded {
			s.lossSealed = max(s.lossSealed, b.lossUpTo)
			s.lossSealedEntries++
			loss := b.loss
			loss.merge(b.encodeLoss)
			sealed = loss.error(appended.FirstSeq, nil)
		}
	} else {
		// The losses go back to the count for the next loss entry, under a
		// new lossSeq: a batch taken after this one may already commit and
		// raise lossSealed past the seq they were counted under.
		if b.loss.spans > 0 {
			s.loss.merge(b.loss)
			s.lossSeq++
		}
		s.addLossLocked(LossEncodeFailed, b.encodeLoss.spans, b.encodeLoss.firstEndTimeNS, b.encodeLoss.lastEndTimeNS)
		s.addLossLocked(LossWriteFailed, b.spanLoss.spans, b.spanLoss.firstEndTimeNS, b.spanLoss.lastEndTimeNS)
		s.lossRetryAt = time.Now().Add(max(s.cfg.retry.MaxInterval, s.cfg.batchTimeout))
		s.closeFailed = s.closeFailed || s.closing
	}
	s.settleWaitersLocked(res)
	s.mu.Unlock()

	// Report outside the lock, so that a slow log handler never delays OnEnd.
	if res.encodeErr != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "spans could not be encoded and were dropped",
			slog.Int("spans", len(res.encodeFailed)), slog.Any("error", res.encodeErr))
	}
	if res.err != nil {
		s.logger.LogAttrs(ctx, slog.LevelError, "chain commit failed: batch dropped, its spans counted as lost",
			slog.String("path", s.chain.path), slog.Int("records", records),
			slog.Int64("spans", b.spanLoss.spans), slog.Any("error", res.err))
		otel.Handle(fmt.Errorf("bijotel: commit of %d records to %s failed, %d spans dropped and counted for a loss entry: %w",
			records, s.chain.path, b.spanLoss.spans, res.err))
	}
	if sealed != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "sealed loss entry",
			slog.Int64("seq", sealed.Seq), slog.Int64("lost_spans", sealed.LostSpans),
			slog.String("reasons", formatReasons(sealed.Reasons)))
		otel.Handle(sealed)
	}
	*res = sealResult{encodeFailed: res.encodeFailed[:0]}
}

// dropWithdrawnLocked removes from b the records of Seal calls withdrawn
// after the builder took them.
func (s *Sealer) dropWithdrawnLocked(b *sealBatch) {
	withdrawn := false
	for _, r := range b.seals {
		withdrawn = withdrawn || r.req.canceled
	}
	if !withdrawn {
		return
	}
	kept := make([]Record, 0, len(b.records))
	next := b.recordsFrom
	for _, r := range b.seals {
		kept = append(kept, b.records[next:r.start]...)
		if !r.req.canceled {
			kept = append(kept, b.records[r.start:r.end]...)
		}
		next = r.end
	}
	kept = append(kept, b.records[next:]...)
	clear(b.records)
	b.records, b.recordsFrom = kept, 0
}

// spanRecord converts and encodes span. keep is false when the filter
// rejects it.
func (s *Sealer) spanRecord(ro sdktrace.ReadOnlySpan) (r Record, keep bool, err error) {
	span := SpanFromSDK(ro)
	if f := s.cfg.spanFilter; f != nil && !f(&span) {
		s.filtered.Add(1)
		return Record{}, false, nil
	}
	r, err = SpanRecord(&span)
	return r, true, err
}

// commit appends records and retries failures under the retry policy.
func (s *Sealer) commit(ctx context.Context, records []Record) (Appended, error) {
	p := s.cfg.retry
	attemptCtx := ctx
	start := time.Now()
	deadline := start.Add(p.MaxElapsedTime)
	if p.MaxElapsedTime > 0 {
		var cancel context.CancelFunc
		attemptCtx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}

	interval := p.InitialInterval
	// cause is the error of the last attempt that the budget did not
	// interrupt, which explains more than "context deadline exceeded".
	var cause error
	for attempt := 1; ; attempt++ {
		a, err := s.chain.Append(attemptCtx, records)
		if err == nil {
			return a, nil
		}
		if ctx.Err() != nil || p.MaxElapsedTime == 0 {
			return Appended{}, err
		}
		interrupted := attemptCtx.Err() != nil
		if !interrupted || cause == nil {
			cause = err
		}
		wait := interval/2 + rand.N(interval/2+1)
		if interrupted || time.Now().Add(wait).After(deadline) {
			return Appended{}, fmt.Errorf("gave up after %d attempts in %v (retry MaxElapsedTime %v): %w",
				attempt, time.Since(start).Round(time.Millisecond), p.MaxElapsedTime, cause)
		}
		s.retries.Add(1)
		s.logger.LogAttrs(ctx, slog.LevelWarn, "chain commit failed, retrying",
			slog.String("path", s.chain.path), slog.Int("attempt", attempt), slog.Int("records", len(records)),
			slog.Duration("retry_in", wait), slog.Any("error", err))

		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Appended{}, err
		}
		interval = min(interval*2, p.MaxInterval)
	}
}

// settleWaitersLocked applies res to the waiters and wakes those that are
// finished: their tickets are done and they failed or their loss is sealed.
func (s *Sealer) settleWaitersLocked(res *sealResult) {
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		if w.err == nil {
			w.err = res.errorFor(w, s.lossSealed)
		}
		if s.done >= w.to && (w.err != nil || w.lossSeq <= s.lossSealed) {
			close(w.done)
			continue
		}
		kept = append(kept, w)
	}
	clear(s.waiters[len(kept):])
	s.waiters = kept
}

// errorFor returns the error of the batch for w, or nil when the batch
// holds nothing that w waits for or everything w waits for is committed.
func (res *sealResult) errorFor(w *waiter, lossSealed uint64) error {
	if res.err != nil {
		if w.from <= w.to && w.from <= res.last && res.first <= w.to {
			return fmt.Errorf("commit failed: %w", res.err)
		}
		// Batches settle in order, so every loss counted up to lossSealed
		// is sealed and the failed loss entry held the next ones.
		if res.lossIncluded && w.lossSeq > lossSealed {
			return fmt.Errorf("loss entry failed to commit: %w", res.err)
		}
	}
	for _, t := range res.encodeFailed {
		if w.from <= t && t <= w.to {
			return fmt.Errorf("%w: %d spans could not be encoded: %w", ErrSpansLost, len(res.encodeFailed), res.encodeErr)
		}
	}
	return nil
}

// dropQueueLocked drops everything still queued once the writer has stopped
// writing: spans are counted as lost and Seal callers get an error.
func (s *Sealer) dropQueueLocked() {
	pending := s.queue[s.head:]
	if len(pending) == 0 {
		return
	}
	var dropped lossCounter
	for _, q := range pending {
		if q.span != nil {
			dropped.addSpan(LossShutdown, unixNanos(q.span.EndTime()))
		}
	}
	res := sealResult{
		first: s.taken + 1,
		last:  s.taken + uint64(len(pending)),
		err:   fmt.Errorf("%w before the records were written", ErrSealerClosed),
	}
	clear(pending)
	s.queue, s.head = s.queue[:0], 0
	s.used = 0
	s.taken += uint64(len(pending))
	s.done = max(s.done, res.last)
	s.addLossLocked(LossShutdown, dropped.spans, dropped.firstEndTimeNS, dropped.lastEndTimeNS)
	s.settleWaitersLocked(&res)
}

// stopLocked finishes the remaining waiters when the writer stops, and
// returns the loss that could not be sealed, if any.
func (s *Sealer) stopLocked() *LossError {
	var unsealed *LossError
	if s.loss.spans > 0 {
		unsealed = s.loss.error(0, nil)
		s.closeErr = unsealed
	}
	for _, w := range s.waiters {
		if w.err == nil && (s.done < w.to || w.lossSeq > s.lossSealed) {
			w.err = ErrSealerClosed
			if unsealed != nil {
				w.err = fmt.Errorf("%w: %w", ErrSealerClosed, unsealed)
			}
		}
		close(w.done)
	}
	s.waiters = nil
	return unsealed
}
