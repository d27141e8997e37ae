package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/tlog"
)

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServeProcess runs "bijotel serve" in a child process and waits until
// its REST API replies to a health check.
func startServeProcess(t *testing.T, db, httpAddr, apiAddr string, extra ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--db", db, "--grpc-addr", "-", "--http-addr", httpAddr, "--api-addr", apiAddr, "--log-level", "warn"}, extra...)
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), runAsCLIEnv+"=1", secretEnvName+"="+fixtureSecretHex)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start serve: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + apiAddr + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("serve did not answer /api/health within 10 s")
	return nil
}

func spanBatch(client, batch, size int) ([]byte, []string) {
	var spans []string
	var ids []string
	for i := 0; i < size; i++ {
		id := fmt.Sprintf("%02x%06x%08x", client, batch, i)
		ids = append(ids, id)
		spans = append(spans, `{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"`+id+`","name":"chat m","kind":3,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000100000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.input.messages","value":{"stringValue":"[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"hello\"}]}]"}}]}`)
	}
	return []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}`), ids
}

// TestServeKilledDuringLoad kills bijotel serve with SIGKILL while clients
// export, three times, and checks that every span acknowledged before a
// kill is in the chain exactly once and that the chain verifies.
func TestServeKilledDuringLoad(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chain.db")
	var mu sync.Mutex
	acked := map[string]bool{}

	for round := 0; round < 3; round++ {
		httpAddr, apiAddr := freeAddr(t), freeAddr(t)
		cmd := startServeProcess(t, db, httpAddr, apiAddr)

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for client := 0; client < 4; client++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for batch := 0; ctx.Err() == nil; batch++ {
					body, ids := spanBatch(round*16+client, batch, 20)
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpAddr+"/v1/traces", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						return
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						mu.Lock()
						for _, id := range ids {
							acked[id] = true
						}
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(300+round*200) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cancel()
		wg.Wait()
	}

	secret, _ := bijotel.ParseSecret(fixtureSecretHex)
	chain, err := bijotel.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	rep, err := bijotel.Verify(context.Background(), chain, secret)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid {
		t.Fatalf("after kills: %s", rep.Message())
	}
	sealed := map[string]int{}
	chain.Scan(context.Background(), 1, 1<<62, func(e *bijotel.Entry) error {
		sealed[e.SpanID]++
		return nil
	})
	if len(acked) == 0 {
		t.Fatal("no export was acknowledged before the kills")
	}
	missing, duplicated := 0, 0
	for id := range acked {
		if sealed[id] == 0 {
			missing++
		}
	}
	for _, n := range sealed {
		if n > 1 {
			duplicated++
		}
	}
	if missing > 0 || duplicated > 0 {
		t.Errorf("%d acknowledged spans missing and %d spans sealed more than once (of %d acknowledged, %d sealed)", missing, duplicated, len(acked), len(sealed))
	}
	t.Logf("%d spans acknowledged, %d sealed, chain of %d entries", len(acked), len(sealed), rep.Checked)
}

func TestServeStopsOnSIGTERM(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chain.db")
	httpAddr, apiAddr := freeAddr(t), freeAddr(t)
	cmd := startServeProcess(t, db, httpAddr, apiAddr)
	body, _ := spanBatch(1, 1, 5)
	resp, err := http.Post("http://"+httpAddr+"/v1/traces", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v, want exit 0", err)
	}
	r := runCLI(t, map[string]string{secretEnvName: fixtureSecretHex}, "verify", "--db", db)
	if r.code != exitOK || r.stdout != "Chain VALID (5 entries).\n" {
		t.Errorf("verify after SIGTERM = %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestWitnessCatchesServeRollback runs a witness against a real bijotel serve
// that signs checkpoints, then restores an older copy of the database behind
// the same signer key. The witness must accept the first two polls and
// raise an alert on the third.
func TestWitnessCatchesServeRollback(t *testing.T) {
	work := t.TempDir()
	signerKey, verifierKey, err := tlog.GenerateKey("witness-test.example/log")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(work, "signer.key")
	if err := os.WriteFile(keyFile, []byte(signerKey), 0o600); err != nil {
		t.Fatal(err)
	}
	dbDir := filepath.Join(work, "db")
	os.Mkdir(dbDir, 0o700)
	db := filepath.Join(dbDir, "chain.db")
	stateDir := filepath.Join(work, "witness")

	serve := func(checkpointDir string) (*exec.Cmd, string, string) {
		httpAddr, apiAddr := freeAddr(t), freeAddr(t)
		cmd := startServeProcess(t, db, httpAddr, apiAddr, "--signer-key", keyFile, "--checkpoint-dir", checkpointDir, "--checkpoint-every", "1", "--checkpoint-interval", "100ms")
		return cmd, httpAddr, apiAddr
	}
	export := func(httpAddr string, batch, n int) {
		body, _ := spanBatch(7, batch, n)
		resp, err := http.Post("http://"+httpAddr+"/v1/traces", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("export = %d", resp.StatusCode)
		}
	}
	witness := func(apiAddr string) result {
		return runCLI(t, nil, "witness", "--log", "http://"+apiAddr, "--verifier-key", verifierKey, "--state", stateDir, "--once")
	}
	waitForSize := func(apiAddr string, size int) {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			resp, err := http.Get("http://" + apiAddr + "/api/checkpoint")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if lines := strings.Split(string(b), "\n"); len(lines) > 1 && lines[1] == fmt.Sprint(size) {
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no checkpoint of size %d within 10 s", size)
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("serve after SIGTERM: %v", err)
		}
	}

	// Three entries, witnessed.
	cmd, httpAddr, apiAddr := serve(filepath.Join(work, "checkpoints"))
	export(httpAddr, 1, 3)
	waitForSize(apiAddr, 3)
	if r := witness(apiAddr); r.code != exitOK {
		t.Fatalf("first witness poll = exit %d, stderr %s", r.code, r.stderr)
	}
	stop(cmd)
	older := filepath.Join(work, "older.db")
	copyInto(t, work, db)
	os.Rename(filepath.Join(work, "chain.db"), older)

	// Five entries, witnessed through a consistency proof.
	cmd, httpAddr, apiAddr = serve(filepath.Join(work, "checkpoints"))
	export(httpAddr, 2, 2)
	waitForSize(apiAddr, 5)
	if r := witness(apiAddr); r.code != exitOK {
		t.Fatalf("second witness poll = exit %d, stderr %s", r.code, r.stderr)
	}
	stop(cmd)

	// The operator restores the three-entry copy and signs it anew.
	os.Remove(db + "-wal")
	os.Remove(db + "-shm")
	if err := os.Rename(older, db); err != nil {
		t.Fatal(err)
	}
	cmd, _, apiAddr = serve(filepath.Join(work, "checkpoints-restored"))
	defer stop(cmd)
	waitForSize(apiAddr, 3)
	r := witness(apiAddr)
	if r.code == exitOK {
		t.Fatalf("witness poll after the rollback = exit 0, want an alert; stdout %s stderr %s", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout+r.stderr, "rolled back") {
		t.Errorf("witness output does not name the rollback: %s %s", r.stdout, r.stderr)
	}
}

func TestServeBindFailureLeavesNoDatabase(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	db := filepath.Join(t.TempDir(), "new.db")
	r := runCLI(t, map[string]string{secretEnvName: fixtureSecretHex}, "serve", "--db", db,
		"--grpc-addr", "-", "--http-addr", busy.Addr().String(), "--api-addr", "-")
	if r.code != exitError || !strings.Contains(r.stderr, "address already in use") {
		t.Errorf("serve on a busy port = exit %d, stderr %q; want exit 1 naming the address", r.code, r.stderr)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve left %s behind after failing to start: %v", db, err)
	}
}
