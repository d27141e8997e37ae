package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/tlog"
)

// maxListLimit caps the limit parameter of GET /api/chain.
const maxListLimit = 1000

// apiHandler routes the REST API and /metrics.
func (s *Server) apiHandler() http.Handler {
	var verifying sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", s.handleHealth)
	mux.HandleFunc("GET /api/version", s.handleVersion)
	mux.HandleFunc("GET /api/layers", s.handleLayers)
	mux.HandleFunc("GET /api/chain", s.handleList)
	mux.HandleFunc("GET /api/chain/stats", s.handleStats)
	mux.HandleFunc("GET /api/chain/{seq}", s.handleEntry)
	mux.HandleFunc("GET /api/chain/verify", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "verification runs on POST /api/chain/verify")
	})
	mux.HandleFunc("POST /api/chain/verify", func(w http.ResponseWriter, r *http.Request) {
		if !verifying.TryLock() {
			writeError(w, http.StatusTooManyRequests, "a verification is already running: retry when it ends")
			return
		}
		defer verifying.Unlock()
		s.handleVerify(w, r)
	})
	if s.cfg.Checkpointer != nil {
		tlog.NewHandler(s.cfg.Chain, s.cfg.Checkpointer).Register(mux)
	}
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.writeMetrics(w)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// internalError logs an unexpected error and replies 500 without details.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.logger.ErrorContext(r.Context(), "request failed", slog.String("path", r.URL.Path), slog.Any("error", err))
	writeError(w, http.StatusInternalServerError, "internal error: see the server log")
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if _, err := s.cfg.Chain.Bounds(r.Context()); err != nil {
		s.logger.ErrorContext(r.Context(), "health check failed", slog.Any("error", err))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "chain database unreadable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"version":      s.cfg.Version,
		"chain_format": "v1",
		"go":           runtime.Version(),
	})
}

// componentLayer is one component in the /api/layers reply.
type componentLayer struct {
	Name    string         `json:"name"`
	State   string         `json:"state"`
	Details map[string]any `json:"details,omitempty"`
}

func (s *Server) handleLayers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var components []componentLayer

	chainLayer := componentLayer{Name: "chain", State: "ok"}
	stats, err := s.cfg.Chain.Stats(ctx)
	if err != nil {
		chainLayer.State = "error"
		s.logger.ErrorContext(ctx, "read chain stats", slog.Any("error", err))
	} else {
		chainLayer.Details = map[string]any{
			"file": filepath.Base(s.cfg.Chain.Path()), "entries": stats.Count, "last_seq": stats.Last,
			"head": stats.Head, "last_timestamp_ns": stats.LastTimestampNS,
		}
	}
	components = append(components, chainLayer)

	sealer := s.sealer.Stats()
	for _, name := range []string{"otlp_grpc", "otlp_http", "rest_api"} {
		c := componentLayer{Name: name, State: "disabled"}
		if addr := s.Addr(name); addr != "" {
			c.State = "listening"
			c.Details = map[string]any{"address": addr}
		}
		components = append(components, c)
	}
	if cps := s.cfg.Checkpointer; cps != nil {
		c := componentLayer{Name: "checkpoints", State: "waiting for the first checkpoint"}
		if cp := cps.Latest(); cp != nil {
			c.State = "ok"
			c.Details = map[string]any{"latest_size": cp.Size, "origin": cp.Origin}
		}
		components = append(components, c)
	}
	components = append(components, componentLayer{Name: "sealer", State: "running", Details: map[string]any{
		"spans_received": s.stats.received.Load(), "spans_sealed": s.stats.sealed.Load(),
		"spans_filtered": s.stats.filtered.Load(), "spans_rejected": s.stats.rejected.Load(),
		"queue_depth": sealer.Queued, "commits": sealer.Batches, "lost_spans": sealer.LostSpans,
	}})

	providers, err := s.layers.providers(ctx)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"components": components,
		"providers":  providers,
		"uptime_s":   int64(time.Since(s.startedAt).Seconds()),
	})
}

// entryJSON is an entry in the REST API, with the column names of the chain
// table. Body is the parsed canonical_body, for reading; canonical_body is
// the exact sealed text.
type entryJSON struct {
	Seq              int64           `json:"seq"`
	TimestampNS      int64           `json:"timestamp_ns"`
	TraceID          string          `json:"trace_id"`
	SpanID           string          `json:"span_id"`
	SpanName         string          `json:"span_name"`
	SpanKind         *string         `json:"span_kind"`
	CanonicalBody    string          `json:"canonical_body"`
	CanonicalHash    string          `json:"canonical_hash"`
	PrevHash         string          `json:"prev_hash"`
	HMACHash         string          `json:"hmac_hash"`
	SemanticBodyHash *string         `json:"semantic_body_hash"`
	Body             json.RawMessage `json:"body,omitempty"`
}

func toJSON(e *bijotel.Entry) entryJSON {
	out := entryJSON{
		Seq: e.Seq, TimestampNS: e.TimestampNS, TraceID: e.TraceID, SpanID: e.SpanID, SpanName: e.SpanName,
		CanonicalBody: string(e.CanonicalBody), CanonicalHash: e.CanonicalHash, PrevHash: e.PrevHash, HMACHash: e.HMACHash,
	}
	if e.SpanKind != "" {
		out.SpanKind = &e.SpanKind
	}
	if e.SemanticBodyHash != "" {
		out.SemanticBodyHash = &e.SemanticBodyHash
	}
	if json.Valid(e.CanonicalBody) {
		out.Body = slices.Clone(e.CanonicalBody)
	}
	return out
}

// parseTime reads a since or until parameter: a date (YYYY-MM-DD, UTC), an
// RFC 3339 time, or nanoseconds since the Unix epoch.
func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if ns, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(0, ns), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid %s %q: use YYYY-MM-DD, an RFC 3339 time or nanoseconds since the epoch", name, v)
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := bijotel.ListOptions{Limit: 50}
	var err error
	if v := q.Get("limit"); v != "" {
		if opts.Limit, err = strconv.Atoi(v); err != nil || opts.Limit < 1 || opts.Limit > maxListLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid limit %q: use 1 to %d", v, maxListLimit))
			return
		}
	}
	if v := q.Get("offset"); v != "" {
		if opts.Offset, err = strconv.Atoi(v); err != nil || opts.Offset < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid offset %q: use 0 or more", v))
			return
		}
	}
	if opts.Since, err = parseTime("since", q.Get("since")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if opts.Until, err = parseTime("until", q.Get("until")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	entries, err := s.cfg.Chain.List(r.Context(), opts)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	out := make([]entryJSON, 0, len(entries))
	for i := range entries {
		out = append(out, toJSON(&entries[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out, "limit": opts.Limit, "offset": opts.Offset})
}

func (s *Server) handleEntry(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid seq %q: use a positive integer", r.PathValue("seq")))
		return
	}
	e, err := s.cfg.Chain.Entry(r.Context(), seq)
	if errors.Is(err, bijotel.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no entry with seq %d", seq))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(e))
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	stats, err := s.cfg.Chain.Stats(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, stats)
}

// verifyRequest is the optional body of POST /api/chain/verify.
type verifyRequest struct {
	FromSeq int64 `json:"from_seq"`
	ToSeq   int64 `json:"to_seq"`
}

func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	if len(s.cfg.Secret) == 0 {
		writeError(w, http.StatusServiceUnavailable, "the server has no HMAC secret: start it with BIJOTEL_HMAC_SECRET set to verify")
		return
	}
	var req verifyRequest
	if r.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "invalid request body: want {\"from_seq\": A, \"to_seq\": B} or no body: "+err.Error())
			return
		}
	}
	var opts []bijotel.VerifyOption
	if req.FromSeq != 0 || req.ToSeq != 0 {
		if req.FromSeq < 1 || req.ToSeq < req.FromSeq {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid range %d:%d: need 1 <= from_seq <= to_seq", req.FromSeq, req.ToSeq))
			return
		}
		opts = append(opts, bijotel.WithSeqRange(req.FromSeq, req.ToSeq))
	}
	rep, err := bijotel.Verify(r.Context(), s.cfg.Chain, s.cfg.Secret, opts...)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, bijotel.NewVerifyResult(rep))
}
