package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/fakeprovider"
)

const testSecretHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// TestExampleAgainstFakes builds the example, runs it against the fake
// provider servers and verifies the chain it writes.
func TestExampleAgainstFakes(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "multi-provider")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	anthropicFake, err := fakeprovider.NewAnthropic()
	if err != nil {
		t.Fatal(err)
	}
	defer anthropicFake.Close()
	openaiFake, err := fakeprovider.NewOpenAI()
	if err != nil {
		t.Fatal(err)
	}
	defer openaiFake.Close()
	geminiFake, err := fakeprovider.NewGemini()
	if err != nil {
		t.Fatal(err)
	}
	defer geminiFake.Close()

	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"BIJOTEL_HMAC_SECRET="+testSecretHex,
		"ANTHROPIC_API_KEY=test", "XAI_API_KEY=test", "MISTRAL_API_KEY=test", "GEMINI_API_KEY=test",
		"BIJOTEL_EXAMPLE_ANTHROPIC_URL="+anthropicFake.URL,
		"BIJOTEL_EXAMPLE_XAI_URL="+openaiFake.URL+"/v1",
		"BIJOTEL_EXAMPLE_MISTRAL_URL="+openaiFake.URL+"/v1",
		"BIJOTEL_EXAMPLE_GEMINI_URL="+geminiFake.URL,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("example: %v\n%s", err, out)
	}
	for _, p := range []string{"anthropic:", "x_ai:", "mistral_ai:", "gcp.gemini:"} {
		if !strings.Contains(string(out), p) || strings.Contains(string(out), "failed") {
			t.Errorf("example output lacks a successful %s call:\n%s", p, out)
		}
	}

	secret, _ := bijotel.ParseSecret(testSecretHex)
	chain, err := bijotel.OpenReadOnly(filepath.Join(dir, "chain.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	rep, err := bijotel.Verify(context.Background(), chain, secret)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Checked != 4 {
		t.Errorf("example chain: %s, want Chain VALID (4 entries).", rep.Message())
	}
}
