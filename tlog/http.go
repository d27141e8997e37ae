package tlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"

	bijotel "github.com/bijotel/bijotel-go"
)

// Paths served by Handler.
const (
	CheckpointPath  = "/api/checkpoint"
	ProofPath       = "/api/proof/{seq}"
	ConsistencyPath = "/api/consistency"
)

// Consistency is the JSON body of GET /api/consistency: the RFC 6962
// consistency proof between the trees of sizes From and To, in standard
// base64.
type Consistency struct {
	From  uint64   `json:"from"`
	To    uint64   `json:"to"`
	Proof []string `json:"proof"`
}

// Handler serves a chain's checkpoints and proofs over HTTP:
//
//	GET /api/checkpoint                 the newest signed checkpoint, as text
//	GET /api/proof/{seq}[?size=N]       a proof bundle for seq, as JSON
//	GET /api/consistency?from=A&to=B    a Consistency, as JSON
//
// Without size, a proof is against the newest checkpoint. With size, it is
// against the tree of N entries and carries the checkpoint of that size
// when the directory keeps one. Otherwise its checkpoint field is empty,
// for a client that holds that checkpoint. A proof bundle contains the
// entry's body, that is the prompts and completions it sealed, so serve it
// only to whoever may read the chain.
type Handler struct {
	chain *bijotel.Chain
	cps   *Checkpointer
	mux   *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler for chain whose checkpoints come from cps.
// A request for a checkpoint before cps has signed any signs one.
func NewHandler(chain *bijotel.Chain, cps *Checkpointer) *Handler {
	h := &Handler{chain: chain, cps: cps, mux: http.NewServeMux()}
	h.Register(h.mux)
	return h
}

// Register adds the three routes to mux, so that a server can mount them
// next to its own.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+CheckpointPath, h.serveCheckpoint)
	mux.HandleFunc("GET "+ProofPath, h.serveProof)
	mux.HandleFunc("GET "+ConsistencyPath, h.serveConsistency)
}

// ServeHTTP serves the three routes alone.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// errBadRequest is wrapped by errors about request parameters.
var errBadRequest = errors.New("bad request")

func (h *Handler) latest(r *http.Request) (*Checkpoint, error) {
	if cp := h.cps.Latest(); cp != nil {
		return cp, nil
	}
	return h.cps.Checkpoint(r.Context())
}

func (h *Handler) serveCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := h.latest(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(cp.Signed)
}

func (h *Handler) serveProof(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		h.fail(w, r, fmt.Errorf("%w: invalid seq %q: need an integer of 1 or more", errBadRequest, r.PathValue("seq")))
		return
	}
	var b *Bundle
	if sizeText := r.URL.Query().Get("size"); sizeText != "" {
		size, err := strconv.ParseUint(sizeText, 10, 64)
		if err != nil {
			h.fail(w, r, fmt.Errorf("%w: invalid size %q: need an integer", errBadRequest, sizeText))
			return
		}
		b, err = h.proveAt(r, seq, size)
		if err != nil {
			h.fail(w, r, err)
			return
		}
	} else {
		cp, err := h.latest(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if b, err = Prove(r.Context(), h.chain, seq, cp); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.writeJSON(w, r, b)
}

// proveAt proves seq against the tree of size entries, with the kept
// checkpoint of that size when there is one.
func (h *Handler) proveAt(r *http.Request, seq int64, size uint64) (*Bundle, error) {
	cp, err := h.cps.Load(size)
	switch {
	case err == nil:
		return Prove(r.Context(), h.chain, seq, cp)
	case errors.Is(err, os.ErrNotExist):
		return ProveAt(r.Context(), h.chain, seq, size)
	default:
		return nil, err
	}
}

func (h *Handler) serveConsistency(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, errFrom := strconv.ParseUint(q.Get("from"), 10, 64)
	to, errTo := strconv.ParseUint(q.Get("to"), 10, 64)
	if errFrom != nil || errTo != nil || from > to {
		h.fail(w, r, fmt.Errorf("%w: need integers from=A&to=B with A <= B, got from=%q to=%q", errBadRequest, q.Get("from"), q.Get("to")))
		return
	}
	hashes, err := h.chain.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, &Consistency{From: from, To: to, Proof: encodeHashes(hashes)})
}

func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, v interface{ Marshal() ([]byte, error) }) {
	data, err := v.Marshal()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

// Marshal returns c as JSON with a final newline.
func (c *Consistency) Marshal() ([]byte, error) {
	data, err := json.Marshal(c)
	return append(data, '\n'), err
}

// fail maps an error to a status code, and logs the errors that are not
// about the request.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, errBadRequest):
		status = http.StatusBadRequest
	case errors.Is(err, bijotel.ErrNotFound), errors.Is(err, bijotel.ErrBeyondTree):
		status = http.StatusNotFound
	}
	// Errors from the chain name the database file, which clients must not
	// learn; request errors only repeat the request.
	var msg string
	switch status {
	case http.StatusBadRequest:
		msg = err.Error()
	case http.StatusNotFound:
		msg = "not found: the entry or tree size is beyond the log's current tree"
	default:
		h.cps.cfg.logger.ErrorContext(r.Context(), "transparency log request failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		msg = "internal error; the server log has the details"
	}
	http.Error(w, msg, status)
}
