package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/bijotel/bijotel-go/fakeprovider"
)

// TestExampleRuns builds the example and runs it against the fake server on
// loopback; it must exit 0 and print the recorded span.
func TestExampleRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	srv, err := fakeprovider.NewOpenAI()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	bin := filepath.Join(t.TempDir(), "example")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin)
	cmd.Env = append(exampleEnv(), "OPENAI_API_KEY=test-key", "BIJOTEL_EXAMPLE_BASE_URL="+srv.URL+"/v1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("example failed: %v\n%s", err, out)
	}
	for _, want := range []string{`bijotel.instrumentation = wrap`, `bijotel.content.mode = hash`, `reply: ` + fakeprovider.OpenAIReplyText} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// exampleEnv returns the test's environment without the variables that
// could point the example at a real provider.
func exampleEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "OPENAI_") || strings.HasPrefix(name, "ANTHROPIC_") || strings.HasPrefix(name, "GROQ_") || strings.HasPrefix(name, "BIJOTEL_EXAMPLE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
