package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	bijotel "github.com/bijotel/bijotel-go"
)

// runAsCLIEnv makes the test binary act as the bijotel command, so that a
// test can run the command in another process, as another user.
const runAsCLIEnv = "BIJOTEL_TEST_RUN_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(runAsCLIEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

const fixtureSecretHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// nobodyUID is the uid of the unprivileged user that runs verify, because
// root ignores file permissions and would hide a write attempt.
const nobodyUID = 65534

func appendFixtureRows(t *testing.T, c *bijotel.Chain, from, to int) {
	t.Helper()
	for n := from; n <= to; n++ {
		r, err := bijotel.EventRecord("audit.event", map[string]any{"event": "tool.approved", "n": n}, time.Unix(0, 1700000000000000000+int64(n)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Append(context.Background(), []bijotel.Record{r}); err != nil {
			t.Fatalf("Append row %d: %v", n, err)
		}
	}
}

func copyInto(t *testing.T, dir string, files ...string) {
	t.Helper()
	for _, src := range files {
		in, err := os.Open(src)
		if err != nil {
			t.Fatalf("open %s: %v", src, err)
		}
		out, err := os.Create(filepath.Join(dir, filepath.Base(src)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}

// snapshot returns the name and SHA-256 of every file in dir.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		lines = append(lines, e.Name()+" "+hex.EncodeToString(sum[:]))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestVerifyReadOnlyDirectory verifies chains in read-only directories, as
// on a mounted backup: one closed cleanly, one whose newest rows are only in
// the write-ahead log, and one whose WAL index (-shm) was not copied.
func TestVerifyReadOnlyDirectory(t *testing.T) {
	work := t.TempDir()
	secret, _ := bijotel.ParseSecret(fixtureSecretHex)

	// A: all five rows, writer closed, so only chain.db exists.
	srcA := filepath.Join(work, "a-src", "chain.db")
	os.MkdirAll(filepath.Dir(srcA), 0o755)
	c, err := bijotel.Open(srcA, secret)
	if err != nil {
		t.Fatal(err)
	}
	appendFixtureRows(t, c, 1, 5)
	c.Close()

	// B and C: rows 1-3 checkpointed into chain.db, rows 4-5 only in the WAL.
	// Copying the files while the writer is open captures the state a killed
	// writer leaves.
	srcB := filepath.Join(work, "b-src", "chain.db")
	os.MkdirAll(filepath.Dir(srcB), 0o755)
	c, err = bijotel.Open(srcB, secret)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	appendFixtureRows(t, c, 1, 3)
	checkpoint(t, srcB)
	appendFixtureRows(t, c, 4, 5)

	dirs := map[string]string{}
	for _, name := range []string{"A", "B", "C"} {
		dirs[name] = filepath.Join(work, name)
		os.Mkdir(dirs[name], 0o755)
	}
	copyInto(t, dirs["A"], srcA)
	copyInto(t, dirs["B"], srcB, srcB+"-wal", srcB+"-shm")
	copyInto(t, dirs["C"], srcB, srcB+"-wal")
	if fi, err := os.Stat(filepath.Join(dirs["B"], "chain.db-wal")); err != nil || fi.Size() == 0 {
		t.Fatalf("copy B has no write-ahead log to read: %v", err)
	}

	runner := cliRunner(t, work)
	for _, name := range []string{"A", "B", "C"} {
		t.Run(name, func(t *testing.T) {
			dir := dirs[name]
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				os.Chmod(filepath.Join(dir, e.Name()), 0o444)
			}
			os.Chmod(dir, 0o555)
			t.Cleanup(func() { os.Chmod(dir, 0o755) })
			before := snapshot(t, dir)

			code, stdout, stderr := runner(filepath.Join(dir, "chain.db"))
			if code != exitOK || stdout != "Chain VALID (5 entries).\n" {
				t.Errorf("verify = exit %d, stdout %q, stderr %q; want exit 0 and Chain VALID (5 entries).", code, stdout, stderr)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("verify changed the directory:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}

// checkpoint copies the WAL's committed pages into the database file.
func checkpoint(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatalf("checkpoint %s: %v", path, err)
	}
}

// cliRunner returns a function that runs "bijotel verify" on a database as
// an unprivileged user: the test binary, copied where that user can run it,
// acts as the command.
func cliRunner(t *testing.T, work string) func(db string) (int, string, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return func(db string) (int, string, string) {
			r := runCLI(t, map[string]string{secretEnvName: fixtureSecretHex}, "verify", "--db", db)
			return r.code, r.stdout, r.stderr
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	binDir := filepath.Join(work, "bin")
	os.Mkdir(binDir, 0o755)
	bin := filepath.Join(binDir, "bijotel.test")
	copyInto(t, binDir, self)
	os.Rename(filepath.Join(binDir, filepath.Base(self)), bin)
	os.Chmod(bin, 0o755)
	for dir := work; dir != "/"; dir = filepath.Dir(dir) {
		// The unprivileged user must be able to reach the binary and the
		// chains; t.TempDir creates its directories with mode 0700.
		fi, err := os.Stat(dir)
		if err == nil && fi.Mode().Perm()&0o011 != 0o011 {
			os.Chmod(dir, fi.Mode().Perm()|0o011)
		}
	}
	return func(db string) (int, string, string) {
		cmd := exec.Command(bin, "verify", "--db", db)
		cmd.Env = []string{runAsCLIEnv + "=1", secretEnvName + "=" + fixtureSecretHex, "TMPDIR=" + os.TempDir(), "PATH=/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyUID}}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if exitErr, ok := err.(*exec.ExitError); ok {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Skipf("cannot run verify as uid %d: %v", nobodyUID, err)
		}
		return code, stdout.String(), fmt.Sprint(stderr.String())
	}
}
