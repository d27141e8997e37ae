package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pythonVectorsDir holds chains written by an independent implementation of
// the Python BIJOTEL v1 format.
const pythonVectorsDir = "../../testdata/python-v1"

const pythonSecretHex = "6b9f2c1d4e8a7b3c5d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command in-process with the given environment variables.
func runCLI(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(""),
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(k string) string { return vars[k] },
	}
	code := run(context.Background(), e, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// copyFile copies a test chain so that commands never touch the original.
func copyFile(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	in, err := os.Open(src)
	if err != nil {
		t.Fatalf("open %s: %v", src, err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatalf("create %s: %v", dst, err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

func TestVerifyCommandPythonChain(t *testing.T) {
	db := copyFile(t, filepath.Join(pythonVectorsDir, "chain.db"))
	r := runCLI(t, map[string]string{secretEnvName: pythonSecretHex}, "verify", "--db", db)
	if r.code != exitOK {
		t.Fatalf("verify exit = %d, want 0; stderr: %s", r.code, r.stderr)
	}
	if r.stdout != "Chain VALID (12 entries).\n" {
		t.Errorf("verify stdout = %q, want %q", r.stdout, "Chain VALID (12 entries).\n")
	}
}

func TestVerifyCommandTamperedCopies(t *testing.T) {
	cases := map[string]string{
		"body-edited.db":   "Chain BROKEN at seq=5: ",
		"hmac-edited.db":   "Chain BROKEN at seq=7: ",
		"row-deleted.db":   "Chain BROKEN at seq=5: ",
		"rows-swapped.db":  "Chain BROKEN at seq=2: ",
		"rehashed-body.db": "Chain BROKEN at seq=9: ",
	}
	for name, prefix := range cases {
		t.Run(name, func(t *testing.T) {
			db := copyFile(t, filepath.Join(pythonVectorsDir, name))
			r := runCLI(t, nil, "verify", "--db", db, "--secret-hex", pythonSecretHex)
			if r.code != exitBroken {
				t.Errorf("verify exit = %d, want %d", r.code, exitBroken)
			}
			if !strings.HasPrefix(r.stderr, prefix) {
				t.Errorf("verify stderr = %q, want prefix %q", r.stderr, prefix)
			}
			if r.stdout != "" {
				t.Errorf("verify stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestVerifyCommandSecretErrors(t *testing.T) {
	db := copyFile(t, filepath.Join(pythonVectorsDir, "chain.db"))
	wrong := "11" + pythonSecretHex[2:]
	tests := []struct {
		name     string
		vars     map[string]string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "wrong secret", args: []string{"--secret-hex", wrong}, wantCode: exitBroken, wantErr: "Chain BROKEN at seq=1: "},
		{name: "missing secret", wantCode: exitUsage, wantErr: "no HMAC secret"},
		{name: "non-hex secret", vars: map[string]string{secretEnvName: "not-hex-" + pythonSecretHex}, wantCode: exitUsage, wantErr: "not a hex string"},
		{name: "short secret", args: []string{"--secret-hex", "abcd"}, wantCode: exitUsage, wantErr: "need at least 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"verify", "--db", db}, tc.args...)
			r := runCLI(t, tc.vars, args...)
			if r.code != tc.wantCode {
				t.Errorf("verify exit = %d, want %d; stderr: %s", r.code, tc.wantCode, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("verify stderr = %q, want it to contain %q", r.stderr, tc.wantErr)
			}
			for _, v := range []string{pythonSecretHex, wrong, pythonSecretHex[8:40]} {
				if strings.Contains(r.stdout+r.stderr, v) {
					t.Errorf("verify output contains part of the secret")
				}
			}
		})
	}
}

func TestVerifyCommandMissingDatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.db")
	r := runCLI(t, map[string]string{secretEnvName: pythonSecretHex}, "verify", "--db", missing)
	if r.code != exitError {
		t.Errorf("verify exit = %d, want %d", r.code, exitError)
	}
	if !strings.Contains(r.stderr, "database not found: "+missing) {
		t.Errorf("verify stderr = %q, want it to name the missing file", r.stderr)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("verify created %s", missing)
	}
}

func TestVerifyCommandSegments(t *testing.T) {
	db := copyFile(t, filepath.Join(pythonVectorsDir, "chain.db"))
	vars := map[string]string{secretEnvName: pythonSecretHex}
	tests := []struct {
		args []string
		want string
	}{
		{args: []string{"--range", "3:7"}, want: "Chain segment VALID: seq 3-7 (5 entries of 12 total).\n"},
		{args: []string{"--last", "4"}, want: "Chain segment VALID: seq 9-12 (4 entries of 12 total).\n"},
		{args: []string{"--since", "2026-05-23"}, want: "Chain segment VALID: seq 1-12 (12 entries of 12 total).\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCLI(t, vars, append([]string{"verify", "--db", db}, tc.args...)...)
			if r.code != exitOK {
				t.Fatalf("verify exit = %d, want 0; stderr: %s", r.code, r.stderr)
			}
			if r.stdout != tc.want {
				t.Errorf("verify stdout = %q, want %q", r.stdout, tc.want)
			}
		})
	}
	r := runCLI(t, vars, "verify", "--db", db, "--until", "2026-05-22")
	if r.code != exitError || !strings.Contains(r.stderr, "no entries in the selected days; the chain's 12 entries are from 2026-05-23 to 2026-05-23") {
		t.Errorf("verify of an empty day range = exit %d, stderr %q; want exit 1 naming the chain's days", r.code, r.stderr)
	}
	r = runCLI(t, vars, "verify", "--db", db, "--last", "0")
	if r.code != exitUsage || !strings.Contains(r.stderr, "invalid --last 0") {
		t.Errorf("verify --last 0 = exit %d, stderr %q; want exit 2", r.code, r.stderr)
	}
	r = runCLI(t, vars, "verify", "--db", db, "--range", "7:3")
	if r.code != exitUsage || !strings.Contains(r.stderr, `invalid --range "7:3"`) {
		t.Errorf("verify --range 7:3 = exit %d, stderr %q; want exit 2 naming the range", r.code, r.stderr)
	}
}

func TestVerifyCommandJSON(t *testing.T) {
	db := copyFile(t, filepath.Join(pythonVectorsDir, "hmac-edited.db"))
	r := runCLI(t, map[string]string{secretEnvName: pythonSecretHex}, "verify", "--db", db, "--json")
	if r.code != exitBroken {
		t.Errorf("verify --json exit = %d, want 3", r.code)
	}
	for _, want := range []string{`"status": "BROKEN"`, `"broken_seq": 7`, `"checked": 6`, `"total": 12`, `"message": "Chain BROKEN at seq=7: `} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify --json output lacks %s:\n%s", want, r.stdout)
		}
	}
}

func TestKeygenCommand(t *testing.T) {
	r := runCLI(t, nil, "keygen")
	if r.code != exitOK {
		t.Fatalf("keygen exit = %d, want 0", r.code)
	}
	line := strings.TrimSpace(r.stdout)
	if len(line) != 64 || strings.Trim(line, "0123456789abcdef") != "" {
		t.Errorf("keygen stdout = %q, want 64 lowercase hex characters", r.stdout)
	}
	if !strings.Contains(r.stderr, secretEnvName) {
		t.Errorf("keygen stderr = %q, want it to explain %s", r.stderr, secretEnvName)
	}
	if strings.Contains(r.stderr, line) {
		t.Error("keygen printed the secret on stderr")
	}
	again := runCLI(t, nil, "keygen")
	if again.stdout == r.stdout {
		t.Error("two keygen runs printed the same secret")
	}
}

func TestHelpFlagExitsZero(t *testing.T) {
	for _, cmd := range []string{"verify", "serve", "import", "keygen", "demo", "checkpoint", "prove", "verify-proof", "witness"} {
		r := runCLI(t, nil, cmd, "-h")
		if r.code != exitOK {
			t.Errorf("bijotel %s -h exit = %d, want 0", cmd, r.code)
		}
		if !strings.Contains(r.stderr, "Usage: bijotel "+cmd) {
			t.Errorf("bijotel %s -h printed no usage line: %q", cmd, r.stderr)
		}
	}
}
