package tlog

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bijotel/bijotel-go/internal/chaintest"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

func TestCheckpointerRejectsDirInsideDatabaseDir(t *testing.T) {
	dbDir := t.TempDir()
	path := chaintest.WriteFive(t, dbDir)
	c := chaintest.OpenChain(t, path)
	k := newKeys(t, "log.example")

	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dbDir, link); err != nil {
		t.Fatalf("Symlink: %v", err)
	}
	for name, dir := range map[string]string{
		"same directory":          dbDir,
		"subdirectory":            filepath.Join(dbDir, "checkpoints"),
		"relative path":           filepath.Join(dbDir, "a", "..", "b"),
		"link to the database's":  link,
		"subdirectory of a link":  filepath.Join(link, "checkpoints"),
		"database directory's /.": dbDir + "/.",
	} {
		if _, err := NewCheckpointer(c, k.signer, dir); !errors.Is(err, ErrCheckpointDir) {
			t.Errorf("%s: NewCheckpointer error = %v, want ErrCheckpointDir", name, err)
		}
	}
	if _, err := NewCheckpointer(c, k.signer, filepath.Join(t.TempDir(), "checkpoints")); err != nil {
		t.Errorf("NewCheckpointer with a directory elsewhere: %v", err)
	}
	// A sibling whose name starts with the database directory's is outside.
	if _, err := NewCheckpointer(c, k.signer, dbDir+"-checkpoints"); err != nil {
		t.Errorf("NewCheckpointer with a sibling directory: %v", err)
	}
}

func TestCheckpointerEveryEntries(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	c := chaintest.OpenChain(t, path)
	k := newKeys(t, "log.example")
	dir := filepath.Join(t.TempDir(), "checkpoints")
	cps, err := NewCheckpointer(c, k.signer, dir, WithEvery(3), WithInterval(time.Hour), WithPollInterval(5*time.Millisecond))
	if err != nil {
		t.Fatalf("NewCheckpointer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cps.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	waitSize := func(want uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if cp := cps.Latest(); cp != nil && cp.Size == want {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("no checkpoint of size %d; latest = %+v", want, cps.Latest())
	}
	waitSize(5)
	chaintest.AppendEvents(t, c, 2, "below the threshold")
	time.Sleep(50 * time.Millisecond)
	if got := cps.Latest().Size; got != 5 {
		t.Errorf("checkpoint after 2 new entries has size %d, want 5 (threshold 3)", got)
	}
	chaintest.AppendEvents(t, c, 1, "at the threshold")
	waitSize(8)

	for _, name := range []string{"checkpoint", "checkpoint-5", "checkpoint-8"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if _, err := Open(data, k.verifier, ""); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckpointerInterval(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	c := chaintest.OpenChain(t, path)
	k := newKeys(t, "log.example")
	cps, err := NewCheckpointer(c, k.signer, t.TempDir(), WithEvery(1000), WithInterval(30*time.Millisecond), WithPollInterval(5*time.Millisecond))
	if err != nil {
		t.Fatalf("NewCheckpointer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cps.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	for cps.Latest() == nil || cps.Latest().Size != 5 {
		time.Sleep(5 * time.Millisecond)
	}
	chaintest.AppendEvents(t, c, 1, "one entry")
	for cps.Latest().Size != 6 {
		if ctx.Err() != nil {
			t.Fatalf("no checkpoint of the one new entry after the interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, data
}

func TestHandlerServesVerifiableAnswers(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	c := chaintest.OpenChain(t, path)
	k := newKeys(t, "log.example")
	cps, err := NewCheckpointer(c, k.signer, t.TempDir())
	if err != nil {
		t.Fatalf("NewCheckpointer: %v", err)
	}
	srv := httptest.NewServer(NewHandler(c, cps))
	defer srv.Close()

	status, body := get(t, srv.URL+"/api/checkpoint")
	if status != http.StatusOK {
		t.Fatalf("GET /api/checkpoint = %d %s", status, body)
	}
	cp5, err := Open(body, k.verifier, "")
	if err != nil || cp5.Size != 5 {
		t.Fatalf("checkpoint = %+v, %v; want size 5", cp5, err)
	}

	chaintest.AppendEvents(t, c, 6, "more")
	cp11, err := cps.Checkpoint(context.Background())
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}

	// Proofs against the newest checkpoint and against a kept older one.
	for _, tc := range []struct {
		query string
		size  uint64
	}{{"/api/proof/3", 11}, {"/api/proof/3?size=5", 5}, {"/api/proof/11", 11}} {
		status, body := get(t, srv.URL+tc.query)
		if status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", tc.query, status, body)
		}
		got, err := VerifyBundle(body, k.verifier, "")
		if err != nil {
			t.Fatalf("GET %s: VerifyBundle: %v", tc.query, err)
		}
		if got.Checkpoint.Size != tc.size {
			t.Errorf("GET %s: proof against size %d, want %d", tc.query, got.Checkpoint.Size, tc.size)
		}
	}

	// A size without a kept checkpoint gives a proof for the client's own.
	status, body = get(t, srv.URL+"/api/proof/2?size=7")
	if status != http.StatusOK {
		t.Fatalf("GET /api/proof/2?size=7 = %d %s", status, body)
	}
	var b Bundle
	if err := json.Unmarshal(body, &b); err != nil || b.Checkpoint != "" || b.TreeSize != 7 {
		t.Errorf("proof at size 7 = checkpoint %q, size %d, %v; want no checkpoint, size 7", b.Checkpoint, b.TreeSize, err)
	}

	status, body = get(t, srv.URL+"/api/consistency?from=5&to=11")
	if status != http.StatusOK {
		t.Fatalf("GET /api/consistency = %d %s", status, body)
	}
	var cons Consistency
	if err := json.Unmarshal(body, &cons); err != nil {
		t.Fatalf("consistency JSON: %v", err)
	}
	hashes, err := DecodeHashes(cons.Proof)
	if err != nil {
		t.Fatalf("DecodeHashes: %v", err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 5, 11, hashes, cp5.Root, cp11.Root); err != nil {
		t.Errorf("consistency proof 5 to 11: %v", err)
	}

	for query, want := range map[string]int{
		"/api/proof/0":                  http.StatusBadRequest,
		"/api/proof/x":                  http.StatusBadRequest,
		"/api/proof/3?size=x":           http.StatusBadRequest,
		"/api/proof/12":                 http.StatusNotFound,
		"/api/proof/3?size=12":          http.StatusNotFound,
		"/api/consistency?from=5":       http.StatusBadRequest,
		"/api/consistency?from=6&to=5":  http.StatusBadRequest,
		"/api/consistency?from=5&to=12": http.StatusNotFound,
	} {
		status, body := get(t, srv.URL+query)
		if status != want {
			t.Errorf("GET %s = %d %s, want %d", query, status, body, want)
		}
		if strings.Contains(string(body), path) {
			t.Errorf("GET %s = %s, which names the database file", query, body)
		}
	}
	resp, err := http.Post(srv.URL+"/api/checkpoint", "text/plain", nil)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/checkpoint = %d, want %d", resp.StatusCode, http.StatusMethodNotAllowed)
	}
}

func TestHandlerMountsOnAnotherMux(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	c := chaintest.OpenChain(t, path)
	k := newKeys(t, "log.example")
	cps, err := NewCheckpointer(c, k.signer, t.TempDir())
	if err != nil {
		t.Fatalf("NewCheckpointer: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	NewHandler(c, cps).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, p := range []string{"/api/health", "/api/checkpoint", "/api/proof/" + strconv.Itoa(5), "/api/consistency?from=1&to=5"} {
		if status, body := get(t, srv.URL+p); status != http.StatusOK {
			t.Errorf("GET %s = %d %s", p, status, body)
		}
	}
}
