package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	bijotel "github.com/bijotel/bijotel-go"
)

// errOverloaded means the request was not taken because the seal queue had
// no room within the admission timeout. Nothing of it was committed.
var errOverloaded = errors.New("sealing cannot keep up; retry later")

// errTooManySpans means a request carried more spans than the limit.
var errTooManySpans = errors.New("too many spans in one request")

// accepted is the outcome of one export request.
type accepted struct {
	sealed, filtered, rejected int
	// rejectMessage explains the rejected spans, for OTLP partial success.
	rejectMessage string
}

// receive filters, checks and seals spans. It returns only after the sealed
// spans are durable, or with an error when none of them was committed.
func (s *Server) receive(ctx context.Context, spans []bijotel.Span) (accepted, error) {
	var out accepted
	s.stats.received.Add(int64(len(spans)))
	if len(spans) > s.cfg.MaxSpansPerRequest {
		s.stats.rejected.Add(int64(len(spans)))
		return out, fmt.Errorf("%w: %d spans, the limit is %d: send smaller batches", errTooManySpans, len(spans), s.cfg.MaxSpansPerRequest)
	}

	records := make([]bijotel.Record, 0, len(spans))
	var reasons []string
	for i := range spans {
		sp := &spans[i]
		if !s.cfg.Filter(sp) {
			out.filtered++
			continue
		}
		if key, size := largestAttribute(sp); size > s.cfg.MaxAttributeBytes {
			out.rejected++
			reasons = append(reasons, fmt.Sprintf("span %s (%q): attribute %q is %d bytes, the limit is %d", sp.SpanID, sp.Name, key, size, s.cfg.MaxAttributeBytes))
			continue
		}
		r, err := bijotel.SpanRecord(sp)
		if err != nil {
			out.rejected++
			reasons = append(reasons, fmt.Sprintf("span %s: %v", sp.SpanID, err))
			continue
		}
		records = append(records, r)
	}
	if out.rejected > 0 {
		out.rejectMessage = strings.Join(reasons, "; ")
		if len(out.rejectMessage) > 1024 {
			out.rejectMessage = out.rejectMessage[:1024] + "..."
		}
	}
	s.stats.filtered.Add(int64(out.filtered))
	s.stats.rejected.Add(int64(out.rejected))

	if len(records) > 0 {
		admit, cancel := context.WithTimeout(ctx, s.cfg.AdmissionTimeout)
		defer cancel()
		started := time.Now()
		err := s.sealer.Seal(admit, records)
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			s.stats.overloaded.Add(1)
			return out, errOverloaded
		default:
			s.logger.WarnContext(ctx, "seal failed", slog.Int("spans", len(records)), slog.Any("error", err))
			s.stats.sealFailures.Add(1)
			return out, fmt.Errorf("%w: %v", errOverloaded, err)
		}
		s.stats.observeCommit(time.Since(started))
		out.sealed = len(records)
		s.stats.sealed.Add(int64(len(records)))
	}
	return out, nil
}

// largestAttribute returns the key and size in bytes of the largest string
// or byte-array attribute value of a span, its events and its links.
func largestAttribute(sp *bijotel.Span) (string, int) {
	var key string
	var size int
	visit := func(attrs []bijotel.Attribute) {
		for _, a := range attrs {
			n := 0
			switch v := a.Value.(type) {
			case string:
				n = len(v)
			case []byte:
				n = len(v)
			}
			if n > size {
				key, size = a.Key, n
			}
		}
	}
	visit(sp.Attributes)
	for _, e := range sp.Events {
		visit(e.Attributes)
	}
	for _, l := range sp.Links {
		visit(l.Attributes)
	}
	return key, size
}
