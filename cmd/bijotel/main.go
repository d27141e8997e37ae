// Command bijotel seals LLM calls into a tamper-evident HMAC chain and
// verifies it. Run "bijotel help" for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes shared by every command. verify's are those of Python
// BIJOTEL's CLI, because scripts test them.
const (
	exitOK        = 0
	exitError     = 1 // missing database, unreadable file, failed write
	exitUsage     = 2 // bad flags, missing or invalid secret
	exitBroken    = 3 // the chain failed verification
	secretEnvName = "BIJOTEL_HMAC_SECRET"
)

// env is the process environment as the commands see it; tests replace it.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// isTerminal reports whether stderr is a terminal, for progress output.
	isTerminal bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, isTerminal: stderrIsTerminal()}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

func stderrIsTerminal() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

func commands() []command {
	return []command{
		{"demo", "run the multi-provider demo into a chain and verify it", runDemo},
		{"verify", "check that a chain is complete and untouched", runVerify},
		{"keygen", "print a new random HMAC secret", runKeygen},
		{"import", "seal the spans of an OTLP/JSON file", runImport},
		{"checkpoint", "sign a checkpoint of the chain's Merkle tree", runCheckpoint},
		{"prove", "write a proof bundle for one entry", runProve},
		{"verify-proof", "check a proof bundle with the log's public key", runVerifyProof},
		{"witness", "watch a log's checkpoints and cosign them", runWitness},
		{"serve", "receive OTLP traces, seal them, and serve the REST API", runServe},
	}
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "Error: unknown command %q; run \"bijotel help\" for the list\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: bijotel COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "bijotel COMMAND -h" for the flags of a command.`)
}

// parseErrorCode returns the exit code for a flag parsing error: 0 for -h,
// whose usage the flag set has printed, and exitUsage otherwise.
func parseErrorCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}
