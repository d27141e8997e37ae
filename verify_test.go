package bijotel

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func mustSecret(t testing.TB, hexSecret string) []byte {
	t.Helper()
	s, err := ParseSecret(hexSecret)
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	return s
}

// copyChain copies a chain database and its WAL, if any, into a temporary
// directory, so that opening it never changes the original.
func copyChain(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	for _, suffix := range []string{"", "-wal"} {
		in, err := os.Open(src + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatalf("open %s: %v", src+suffix, err)
		}
		out, err := os.OpenFile(dst+suffix, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			t.Fatalf("create %s: %v", dst+suffix, err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatalf("copy %s: %v", src+suffix, err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

func verifyFile(t testing.TB, path string, secret []byte, opts ...VerifyOption) *Report {
	t.Helper()
	c, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly(%s): %v", path, err)
	}
	defer c.Close()
	rep, err := Verify(context.Background(), c, secret, opts...)
	if err != nil {
		t.Fatalf("Verify(%s): %v", path, err)
	}
	return rep
}

func TestVerifyPythonChain(t *testing.T) {
	loadVectors(t)
	rep := verifyFile(t, copyChain(t, filepath.Join(pythonVectorsDir, "chain.db")), mustSecret(t, pythonSecretHex))
	if !rep.Valid {
		t.Fatalf("Verify = BROKEN at seq=%d: %s, want VALID", rep.Broken.Seq, rep.Broken.Reason)
	}
	if rep.Checked != 12 || rep.Total != 12 {
		t.Errorf("Verify checked %d of %d entries, want 12 of 12", rep.Checked, rep.Total)
	}
	if rep.Spans != 11 || rep.Events != 1 {
		t.Errorf("Verify counted %d spans and %d events, want 11 and 1", rep.Spans, rep.Events)
	}
}

func TestVerifyPythonTamperedCopies(t *testing.T) {
	loadVectors(t)
	data, err := os.ReadFile(filepath.Join(pythonVectorsDir, "cases.json"))
	if err != nil {
		t.Fatalf("read cases.json: %v", err)
	}
	var cases []struct {
		DB          string `json:"db"`
		FirstBadSeq int64  `json:"first_bad_seq"`
		What        string `json:"what"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("parse cases.json: %v", err)
	}
	if len(cases) == 0 {
		t.Fatal("cases.json lists no tampered copies")
	}
	for _, tc := range cases {
		t.Run(tc.DB, func(t *testing.T) {
			rep := verifyFile(t, copyChain(t, filepath.Join(pythonVectorsDir, tc.DB)), mustSecret(t, pythonSecretHex))
			if rep.Valid {
				t.Fatalf("Verify(%s) = VALID, want BROKEN at seq=%d (%s)", tc.DB, tc.FirstBadSeq, tc.What)
			}
			if rep.Broken.Seq != tc.FirstBadSeq {
				t.Errorf("Verify(%s) broken at seq=%d (%s), want seq=%d (%s)", tc.DB, rep.Broken.Seq, rep.Broken.Reason, tc.FirstBadSeq, tc.What)
			}
		})
	}
}

func TestVerifyWrongSecretBreaksAtFirstEntry(t *testing.T) {
	loadVectors(t)
	wrong := mustSecret(t, "00"+pythonSecretHex[2:])
	rep := verifyFile(t, copyChain(t, filepath.Join(pythonVectorsDir, "chain.db")), wrong)
	if rep.Valid || rep.Broken.Seq != 1 {
		t.Fatalf("Verify with a wrong secret = %+v, want BROKEN at seq=1", rep.Broken)
	}
	if rep.Broken.Reason != reasonHMAC {
		t.Errorf("reason = %q, want %q", rep.Broken.Reason, reasonHMAC)
	}
}
