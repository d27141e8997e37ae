// Package witness watches a bijotel log from outside: it fetches the log's
// checkpoints, accepts each one only if a consistency proof shows that it
// extends the last one accepted, cosigns it and keeps it. A log that shows
// a smaller tree (rollback) or a tree that does not extend the accepted one
// (fork) raises an alert, because it has rewritten or hidden history.
//
// Cosignatures are C2SP tlog-cosignature "cosignature/v1" Ed25519
// signatures: the witness signs the text "cosignature/v1\ntime T\n"
// followed by the checkpoint body, where T is the signing time in Unix
// seconds, and the signature bytes are T as 8 big-endian bytes followed by
// the Ed25519 signature. The witness's verifier key has the algorithm byte
// 0x04. The implementation is that of
// github.com/transparency-dev/formats/note.
package witness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bijotel/bijotel-go/internal/atomicfile"
	"github.com/bijotel/bijotel-go/tlog"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Alerts. An *AlertError wraps one of them.
var (
	// ErrRollback means the log showed a smaller tree than one already
	// accepted.
	ErrRollback = errors.New("log rolled back")
	// ErrFork means the log showed a tree that does not extend the one
	// already accepted.
	ErrFork = errors.New("log forked")
)

// AlertError reports a checkpoint that contradicts the accepted one.
type AlertError struct {
	// Kind is ErrRollback or ErrFork.
	Kind error
	// Accepted is the checkpoint the witness had accepted; Offered is the
	// one the log served.
	Accepted, Offered *tlog.Checkpoint
	// Evidence is the file holding both checkpoints, or empty when it
	// could not be written.
	Evidence string
	Reason   string
}

func (e *AlertError) Error() string {
	return fmt.Sprintf("%v: %s", e.Kind, e.Reason)
}

func (e *AlertError) Unwrap() error { return e.Kind }

// Files in the state directory.
const (
	// StateFile holds the last accepted checkpoint with the witness's
	// cosignature.
	StateFile = "checkpoint"
	// maxCheckpointBytes and maxConsistencyBytes cap the responses read.
	maxCheckpointBytes  = 64 << 10
	maxConsistencyBytes = 1 << 20
)

// Witness checks and cosigns the checkpoints of one log. It is not safe for
// concurrent use.
type Witness struct {
	logURL   *url.URL
	verifier note.Verifier
	cosigner note.Signer
	dir      string
	client   *http.Client
	logger   *slog.Logger
	origin   string

	accepted *tlog.Checkpoint
}

// Option configures New.
type Option func(*Witness)

// WithHTTPClient sets the client for requests to the log. The default has a
// 30 s timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(w *Witness) { w.client = c }
}

// WithLogger sets the logger for accepted checkpoints, alerts and failed
// polls. The default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(w *Witness) {
		if l != nil {
			w.logger = l
		}
	}
}

// WithOrigin requires the log's checkpoints to carry this origin. The
// default accepts the origin of the first checkpoint and then requires it.
func WithOrigin(origin string) Option {
	return func(w *Witness) { w.origin = origin }
}

// New returns a witness of the log served at logURL (the base URL of a
// server mounting tlog.Handler) whose checkpoints verifier checks. It
// cosigns with cosignerKey, an Ed25519 signer key in the signed-note format,
// and keeps its state in dir, loading the checkpoint accepted by an earlier
// run.
func New(logURL string, verifier note.Verifier, cosignerKey string, dir string, opts ...Option) (*Witness, error) {
	u, err := url.Parse(logURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid log URL %q: need http:// or https:// and a host", logURL)
	}
	cosigner, err := fnote.NewSignerForCosignatureV1(cosignerKey)
	if err != nil {
		return nil, fmt.Errorf("invalid witness signer key: %w", err)
	}
	w := &Witness{
		logURL: u, verifier: verifier, cosigner: cosigner, dir: dir,
		client: &http.Client{Timeout: 30 * time.Second},
		logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(w)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("witness state directory: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	switch {
	case err == nil:
		cp, err := tlog.Open(data, verifier, w.origin)
		if err != nil {
			return nil, fmt.Errorf("witness state %s: %w", filepath.Join(dir, StateFile), err)
		}
		w.accepted = cp
		w.origin = cp.Origin
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("witness state: %w", err)
	}
	return w, nil
}

// CosignerVerifierKey returns the verifier key of the cosignatures made
// with cosignerKey, which clients of the log use to check them. Its
// algorithm byte is 0x04, so it differs from the plain Ed25519 verifier key
// of the same key pair.
func CosignerVerifierKey(cosignerKey string) (string, error) {
	vkey, err := tlog.VerifierKeyOf(cosignerKey)
	if err != nil {
		return "", err
	}
	return fnote.VKeyToCosignatureV1(vkey)
}

// Accepted returns the last accepted checkpoint, or nil before the first.
func (w *Witness) Accepted() *tlog.Checkpoint { return w.accepted }

// Poll fetches the log's checkpoint once. It accepts and cosigns a
// checkpoint that extends the accepted one, as a consistency proof from the
// log shows, and returns the accepted checkpoint. The first checkpoint ever
// seen is accepted as it is. A rollback or fork returns an *AlertError. No
// error, an alert or a failed request or a bad signature, changes the
// state.
func (w *Witness) Poll(ctx context.Context) (*tlog.Checkpoint, error) {
	data, err := w.get(ctx, tlog.CheckpointPath, nil, maxCheckpointBytes)
	if err != nil {
		return nil, err
	}
	cp, err := tlog.Open(data, w.verifier, w.origin)
	if err != nil {
		return nil, err
	}

	old := w.accepted
	switch {
	case old == nil:
		w.logger.InfoContext(ctx, "witness accepts its first checkpoint of the log", slog.String("origin", cp.Origin), slog.Uint64("size", cp.Size))
	case cp.Size < old.Size:
		return nil, w.alert(ctx, ErrRollback, old, cp, fmt.Sprintf("checkpoint size %d after size %d was accepted", cp.Size, old.Size))
	case cp.Size == old.Size:
		if !bytes.Equal(cp.Root, old.Root) {
			return nil, w.alert(ctx, ErrFork, old, cp, fmt.Sprintf("two roots for size %d", cp.Size))
		}
		return old, nil
	default:
		if err := w.checkConsistency(ctx, old, cp); err != nil {
			var alert *AlertError
			if errors.As(err, &alert) {
				return nil, err
			}
			return nil, fmt.Errorf("consistency proof from size %d to %d: %w", old.Size, cp.Size, err)
		}
	}

	cosigned, err := w.cosign(cp)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(w.dir, StateFile), cosigned, 0o644); err != nil {
		return nil, err
	}
	cp.Signed = cosigned
	w.accepted = cp
	w.origin = cp.Origin
	w.logger.InfoContext(ctx, "witness cosigned checkpoint", slog.String("origin", cp.Origin), slog.Uint64("size", cp.Size))
	return cp, nil
}

// checkConsistency fetches and verifies the proof that newer extends old.
func (w *Witness) checkConsistency(ctx context.Context, old, newer *tlog.Checkpoint) error {
	q := url.Values{"from": {strconv.FormatUint(old.Size, 10)}, "to": {strconv.FormatUint(newer.Size, 10)}}
	data, err := w.get(ctx, tlog.ConsistencyPath, q, maxConsistencyBytes)
	if err != nil {
		return err
	}
	var c tlog.Consistency
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("invalid consistency response: %w", err)
	}
	if c.From != old.Size || c.To != newer.Size {
		return fmt.Errorf("consistency response is for sizes %d to %d, requested %d to %d", c.From, c.To, old.Size, newer.Size)
	}
	hashes, err := tlog.DecodeHashes(c.Proof)
	if err != nil {
		return fmt.Errorf("invalid consistency proof: %w", err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, newer.Size, hashes, old.Root, newer.Root); err != nil {
		return w.alert(ctx, ErrFork, old, newer, fmt.Sprintf("the tree of size %d does not extend the accepted tree of size %d: %v", newer.Size, old.Size, err))
	}
	return nil
}

// cosign adds the witness's cosignature to the log's signed checkpoint.
func (w *Witness) cosign(cp *tlog.Checkpoint) ([]byte, error) {
	n, err := note.Open(cp.Signed, note.VerifierList(w.verifier))
	if err != nil {
		return nil, fmt.Errorf("cosign: %w", err)
	}
	// Keep only the log's signature: cosignatures of other witnesses are
	// theirs to vouch for.
	n.UnverifiedSigs = nil
	signed, err := note.Sign(n, w.cosigner)
	if err != nil {
		return nil, fmt.Errorf("cosign: %w", err)
	}
	return signed, nil
}

// alert logs an alert, keeps both checkpoints as evidence and returns the
// *AlertError.
func (w *Witness) alert(ctx context.Context, kind error, accepted, offered *tlog.Checkpoint, reason string) error {
	e := &AlertError{Kind: kind, Accepted: accepted, Offered: offered, Reason: reason}
	evidence := filepath.Join(w.dir, fmt.Sprintf("alert-%d.txt", time.Now().UnixNano()))
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%v: %s\n\nAccepted checkpoint:\n%s\nOffered checkpoint:\n%s", kind, reason, accepted.Signed, offered.Signed)
	if err := atomicfile.Write(evidence, buf.Bytes(), 0o644); err == nil {
		e.Evidence = evidence
	} else {
		w.logger.ErrorContext(ctx, "witness could not keep the evidence of an alert", slog.Any("error", err))
	}
	w.logger.ErrorContext(ctx, "ALERT: the log contradicts a checkpoint the witness accepted",
		slog.String("alert", kind.Error()), slog.String("reason", reason), slog.String("log", w.logURL.String()),
		slog.String("origin", offered.Origin), slog.Uint64("accepted_size", accepted.Size), slog.Uint64("offered_size", offered.Size),
		slog.String("evidence", e.Evidence))
	return e
}

// Run polls every interval until ctx is done, when it returns nil, or until
// an alert, which it returns. Failed polls are logged and retried at the
// next interval.
func (w *Witness) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("invalid witness interval %v: need a positive duration", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_, err := w.Poll(ctx)
		var alert *AlertError
		switch {
		case errors.As(err, &alert):
			return err
		case err != nil && ctx.Err() == nil:
			w.logger.WarnContext(ctx, "witness poll failed; retrying at the next interval", slog.String("log", w.logURL.String()), slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// get fetches path from the log, reading at most limit bytes.
func (w *Witness) get(ctx context.Context, path string, q url.Values, limit int64) ([]byte, error) {
	u := w.logURL.JoinPath(path)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("GET %s: response larger than %d bytes", u, limit)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(data[:min(len(data), 200)]))
	}
	return data, nil
}
