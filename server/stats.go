package server

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// commitBuckets are the upper bounds, in seconds, of the commit latency
// histogram.
var commitBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// receiverStats are the counters behind /metrics and /api/layers.
type receiverStats struct {
	received, sealed, filtered, rejected atomic.Int64
	badRequests, overloaded              atomic.Int64
	sealFailures, unauthorized           atomic.Int64

	mu         sync.Mutex
	buckets    []int64
	latencySum float64
	latencyN   int64
	lastSealed time.Time
	clock      func() time.Time
}

func newReceiverStats() *receiverStats {
	return &receiverStats{buckets: make([]int64, len(commitBuckets))}
}

// observeCommit records the time from handing spans to the sealer to their
// commit.
func (r *receiverStats) observeCommit(d time.Duration) {
	sec := d.Seconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, le := range commitBuckets {
		if sec <= le {
			r.buckets[i]++
		}
	}
	r.latencySum += sec
	r.latencyN++
}

// writeMetrics writes the Prometheus text exposition format.
func (s *Server) writeMetrics(w io.Writer) {
	st := s.stats
	sealer := s.sealer.Stats()
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	counter("bijotel_spans_received_total", "Spans received over OTLP.", st.received.Load())
	counter("bijotel_spans_sealed_total", "Spans committed to the chain by the receiver.", st.sealed.Load())
	counter("bijotel_spans_filtered_total", "Spans received without gen_ai.* or bijotel.mcp.* attributes, not sealed.", st.filtered.Load())
	counter("bijotel_spans_rejected_total", "Spans rejected by limits or encoding errors, reported with OTLP partial success.", st.rejected.Load())
	counter("bijotel_requests_invalid_total", "Export requests rejected as malformed.", st.badRequests.Load())
	counter("bijotel_requests_overloaded_total", "Export requests answered with a retry because sealing could not keep up.", st.overloaded.Load())
	counter("bijotel_requests_unauthorized_total", "Requests without a valid bearer token.", st.unauthorized.Load())
	counter("bijotel_seal_failures_total", "Export requests whose commit failed after retries.", st.sealFailures.Load())
	counter("bijotel_lost_spans_total", "Spans the writer dropped; each is counted in a sealed loss entry.", sealer.LostSpans)
	gauge("bijotel_queue_depth", "Spans and records waiting to be committed.", int64(sealer.Queued))
	counter("bijotel_commits_total", "Transactions committed by the writer.", sealer.Batches)

	st.mu.Lock()
	defer st.mu.Unlock()
	const h = "bijotel_commit_latency_seconds"
	fmt.Fprintf(w, "# HELP %s Time from handing a request's spans to the writer until they are committed.\n# TYPE %s histogram\n", h, h)
	for i, le := range commitBuckets {
		fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", h, le, st.buckets[i])
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", h, st.latencyN, h, st.latencySum, h, st.latencyN)
}
