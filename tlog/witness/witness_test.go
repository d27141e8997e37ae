package witness

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/internal/chaintest"
	"github.com/bijotel/bijotel-go/tlog"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// switchHandler lets a test replace the log behind a running server, as an
// operator who restores an older copy of the database does.
type switchHandler struct {
	h atomic.Pointer[http.Handler]
}

func (s *switchHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

type logKeys struct {
	skey, vkey string
	signer     note.Signer
	verifier   note.Verifier
}

func newLogKeys(t testing.TB) logKeys {
	t.Helper()
	skey, vkey, err := tlog.GenerateKey("log.example")
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	s, err := tlog.NewSigner(skey)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	v, err := tlog.NewVerifier(vkey)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return logKeys{skey: skey, vkey: vkey, signer: s, verifier: v}
}

// serveChain returns a handler serving the chain at path, with checkpoints
// kept in a fresh directory.
func serveChain(t testing.TB, c *bijotel.Chain, k logKeys) (*tlog.Handler, *tlog.Checkpointer) {
	t.Helper()
	cps, err := tlog.NewCheckpointer(c, k.signer, t.TempDir())
	if err != nil {
		t.Fatalf("NewCheckpointer: %v", err)
	}
	return tlog.NewHandler(c, cps), cps
}

func checkpointNow(t testing.TB, cps *tlog.Checkpointer) {
	t.Helper()
	if _, err := cps.Checkpoint(context.Background()); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
}

// logBuffer collects log output written from any goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newWitness(t testing.TB, url string, k logKeys, dir string, logs *logBuffer) (*Witness, string) {
	t.Helper()
	wkey, _, err := tlog.GenerateKey("witness.example")
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	w, err := New(url, k.verifier, wkey, dir, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return w, wkey
}

func wantAlert(t *testing.T, err error, kind error, logs *logBuffer) *AlertError {
	t.Helper()
	var alert *AlertError
	if !errors.As(err, &alert) || !errors.Is(err, kind) {
		t.Fatalf("Poll error = %v, want an alert wrapping %v", err, kind)
	}
	if !strings.Contains(logs.String(), "ALERT") {
		t.Errorf("log has no alert: %s", logs.String())
	}
	if alert.Evidence == "" {
		t.Errorf("alert kept no evidence")
	} else if data, err := os.ReadFile(alert.Evidence); err != nil || !bytes.Contains(data, alert.Offered.Signed) {
		t.Errorf("evidence file %s = %q, %v; want the offered checkpoint", alert.Evidence, data, err)
	}
	return alert
}

// The witness accepts a growing log, then catches the rollback when the
// server is switched to an older copy of the database.
func TestWitnessCatchesRollback(t *testing.T) {
	dbDir := t.TempDir()
	path := chaintest.WriteFive(t, dbDir)
	backup := filepath.Join(t.TempDir(), "backup.db")
	chaintest.CopyFile(t, path, backup)

	k := newLogKeys(t)
	c := chaintest.OpenChain(t, path)
	h, cps := serveChain(t, c, k)
	sw := &switchHandler{}
	sw.set(h)
	srv := httptest.NewServer(sw)
	defer srv.Close()

	logs := &logBuffer{}
	stateDir := t.TempDir()
	w, wkey := newWitness(t, srv.URL, k, stateDir, logs)

	// Poll 1: the first checkpoint, size 5, is accepted as it is.
	cp, err := w.Poll(context.Background())
	if err != nil || cp.Size != 5 {
		t.Fatalf("first Poll = %+v, %v; want size 5", cp, err)
	}
	// Poll 2: size 9, accepted through a consistency proof.
	chaintest.AppendEvents(t, c, 4, "growth")
	checkpointNow(t, cps)
	if cp, err = w.Poll(context.Background()); err != nil || cp.Size != 9 {
		t.Fatalf("second Poll = %+v, %v; want size 9", cp, err)
	}

	// The state file carries the log's signature and the cosignature.
	state, err := os.ReadFile(filepath.Join(stateDir, StateFile))
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	cosigVKey, err := CosignerVerifierKey(wkey)
	if err != nil {
		t.Fatalf("CosignerVerifierKey: %v", err)
	}
	cosigVerifier, err := fnote.NewVerifierForCosignatureV1(cosigVKey)
	if err != nil {
		t.Fatalf("NewVerifierForCosignatureV1: %v", err)
	}
	n, err := note.Open(state, note.VerifierList(k.verifier, cosigVerifier))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("state note = %v, %v; want the log's signature and the cosignature", n, err)
	}
	if !strings.HasPrefix(n.Text, "log.example\n9\n") {
		t.Errorf("state checkpoint = %q, want size 9", n.Text)
	}

	// Poll 3: the server now serves an older copy of the database, with a
	// checkpoint of size 5 signed by the real key.
	old := chaintest.OpenChain(t, backup)
	oldHandler, oldCps := serveChain(t, old, k)
	checkpointNow(t, oldCps)
	sw.set(oldHandler)
	_, err = w.Poll(context.Background())
	alert := wantAlert(t, err, ErrRollback, logs)
	if alert.Accepted.Size != 9 || alert.Offered.Size != 5 {
		t.Errorf("alert sizes = accepted %d, offered %d; want 9, 5", alert.Accepted.Size, alert.Offered.Size)
	}
	if !strings.Contains(err.Error(), "checkpoint size 5 after size 9 was accepted") {
		t.Errorf("alert = %v", err)
	}
	if w.Accepted().Size != 9 {
		t.Errorf("accepted size after the alert = %d, want 9 (unchanged)", w.Accepted().Size)
	}

	// A restarted witness remembers size 9 and still refuses the rollback.
	w2, err := New(srv.URL, k.verifier, wkey, stateDir)
	if err != nil {
		t.Fatalf("New from saved state: %v", err)
	}
	if _, err := w2.Poll(context.Background()); !errors.Is(err, ErrRollback) {
		t.Errorf("restarted witness: Poll error = %v, want ErrRollback", err)
	}
}

// After the rollback the operator appends other entries: the log's tree
// grows past the accepted size but does not extend it.
func TestWitnessCatchesFork(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	backup := filepath.Join(t.TempDir(), "backup.db")
	chaintest.CopyFile(t, path, backup)

	k := newLogKeys(t)
	c := chaintest.OpenChain(t, path)
	chaintest.AppendEvents(t, c, 3, "original")
	h, cps := serveChain(t, c, k)
	checkpointNow(t, cps)
	sw := &switchHandler{}
	sw.set(h)
	srv := httptest.NewServer(sw)
	defer srv.Close()

	logs := &logBuffer{}
	w, _ := newWitness(t, srv.URL, k, t.TempDir(), logs)
	if cp, err := w.Poll(context.Background()); err != nil || cp.Size != 8 {
		t.Fatalf("first Poll = %+v, %v; want size 8", cp, err)
	}

	forked := chaintest.OpenChain(t, backup)
	chaintest.AppendEvents(t, forked, 3, "rewritten")
	fh, fcps := serveChain(t, forked, k)
	checkpointNow(t, fcps)
	sw.set(fh)
	_, err := w.Poll(context.Background())
	wantAlert(t, err, ErrFork, logs)
	if !strings.Contains(err.Error(), "two roots for size 8") {
		t.Errorf("alert = %v", err)
	}

	chaintest.AppendEvents(t, forked, 2, "more")
	checkpointNow(t, fcps)
	_, err = w.Poll(context.Background())
	wantAlert(t, err, ErrFork, logs)
	if !strings.Contains(err.Error(), "does not extend the accepted tree of size 8") {
		t.Errorf("alert = %v", err)
	}
}

func TestWitnessRejectsForeignSignature(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	k := newLogKeys(t)
	impostor := newLogKeys(t)
	c := chaintest.OpenChain(t, path)
	h, _ := serveChain(t, c, impostor)
	srv := httptest.NewServer(h)
	defer srv.Close()

	w, _ := newWitness(t, srv.URL, k, t.TempDir(), &logBuffer{})
	_, err := w.Poll(context.Background())
	if !errors.Is(err, tlog.ErrInvalidCheckpoint) {
		t.Errorf("Poll of a checkpoint signed by another key: error = %v, want ErrInvalidCheckpoint", err)
	}
	if w.Accepted() != nil {
		t.Errorf("witness accepted a checkpoint signed by another key")
	}
}

func TestRunReturnsAlert(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	backup := filepath.Join(t.TempDir(), "backup.db")
	chaintest.CopyFile(t, path, backup)
	k := newLogKeys(t)
	c := chaintest.OpenChain(t, path)
	chaintest.AppendEvents(t, c, 1, "more")
	h, cps := serveChain(t, c, k)
	checkpointNow(t, cps)
	old := chaintest.OpenChain(t, backup)
	oh, ocps := serveChain(t, old, k)
	checkpointNow(t, ocps)

	// The server serves the newer log first and the older one after.
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			h.ServeHTTP(rw, r)
			return
		}
		oh.ServeHTTP(rw, r)
	}))
	defer srv.Close()

	w, _ := newWitness(t, srv.URL, k, t.TempDir(), &logBuffer{})
	err := w.Run(context.Background(), 1)
	if !errors.Is(err, ErrRollback) {
		t.Errorf("Run error = %v, want ErrRollback", err)
	}
}
