package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/internal/demo"
)

func runDemo(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dbPath := fs.String("db", "chain.db", "path of the chain database (created when missing; a run appends to it)")
	live := fs.Bool("live", false, "call the real provider APIs with ANTHROPIC_API_KEY, XAI_API_KEY, MISTRAL_API_KEY and GEMINI_API_KEY instead of fake servers on loopback")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: bijotel demo [--db PATH] [--live]")
		fmt.Fprintln(e.stderr, "Calls Anthropic, xAI, Mistral and Gemini through their Go SDKs, seals every call into the chain, and verifies it.")
		fmt.Fprintln(e.stderr, "The secret comes from "+secretEnvName+", or from PATH.secret, which the first run creates.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseErrorCode(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "Error: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}

	secret, err := demoSecret(e, *dbPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}
	mode := "fake provider servers on loopback"
	if *live {
		mode = "the real provider APIs"
	}
	fmt.Fprintf(e.stdout, "Calling four providers through %s, sealing into %s:\n", mode, *dbPath)
	res, err := demo.Run(ctx, demo.Options{DBPath: *dbPath, Secret: secret, Live: *live, Getenv: e.getenv, Out: e.stdout})
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}

	fmt.Fprintln(e.stdout)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "provider\tinstrumentation\tcalls\tinput tokens\toutput tokens\t")
	for _, u := range res.Providers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t\n", u.Provider, u.Instrumentation, u.Spans, u.InputTokens, u.OutputTokens)
	}
	tw.Flush()
	fmt.Fprintln(e.stdout)

	if !res.Report.Valid {
		fmt.Fprintln(e.stderr, res.Report.Message())
		return exitBroken
	}
	fmt.Fprintln(e.stdout, res.Report.Message())
	return exitOK
}

// demoSecret returns the secret from the environment, or from the file
// next to the database, creating that file with a new secret on the first
// run so that later runs and bijotel verify can use it.
func demoSecret(e *env, dbPath string) ([]byte, error) {
	if v := e.getenv(secretEnvName); v != "" {
		return loadSecret(e, "")
	}
	path := dbPath + ".secret"
	data, err := os.ReadFile(path)
	if err == nil {
		secret, err := bijotel.ParseSecret(strings.TrimSpace(string(data)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return secret, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(secret)); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stderr, "%s is not set: wrote a new secret to %s (mode 0600). To verify later:\n  export %s=$(cat %s)\n  bijotel verify --db %s\n", secretEnvName, path, secretEnvName, path, dbPath)
	return secret, nil
}
