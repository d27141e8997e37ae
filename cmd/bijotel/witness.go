package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bijotel/bijotel-go/tlog"
	"github.com/bijotel/bijotel-go/tlog/witness"
)

// witnessKeyFile is the witness's own signer key in its state directory,
// made on the first run when --signer-key is not given.
const witnessKeyFile = "witness.key"

func runWitness(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("witness", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	logURL := fs.String("log", "", "base `URL` of the log's server, which serves /api/checkpoint and /api/consistency (required)")
	verifierKey := fs.String("verifier-key", "", "the log's verifier `KEY`, or a file holding it (required)")
	stateDir := fs.String("state", "", "`DIR` for the accepted checkpoint, the witness key and alert evidence (required)")
	interval := fs.Duration("interval", time.Minute, "time between polls, such as 30s or 5m")
	once := fs.Bool("once", false, "poll once and exit")
	keyPath := fs.String("signer-key", "", "the witness's own signer key `FILE` (default: DIR/"+witnessKeyFile+", made on the first run)")
	name := fs.String("name", "bijotel-witness", "key `NAME` of the witness key made on the first run")
	origin := fs.String("origin", "", "require this origin line (default: the origin of the first checkpoint accepted)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: bijotel witness --log URL --verifier-key KEY --state DIR [--interval D] [--once]")
		fmt.Fprintln(e.stderr, "Polls a log's checkpoint, accepts it only if a consistency proof shows that it extends the last one")
		fmt.Fprintln(e.stderr, "accepted, cosigns it (C2SP tlog-cosignature) and keeps it in DIR. A rollback or fork exits with code 3.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseErrorCode(err)
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(e.stderr, "Error: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	case *logURL == "" || *verifierKey == "" || *stateDir == "":
		fmt.Fprintln(e.stderr, "Error: witness needs --log URL, --verifier-key KEY and --state DIR")
		return exitUsage
	case *interval <= 0:
		fmt.Fprintf(e.stderr, "Error: invalid --interval %v: need a positive duration such as 1m\n", *interval)
		return exitUsage
	}
	v, err := readVerifierKey(*verifierKey)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}
	if err := os.MkdirAll(*stateDir, 0o700); err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	if *keyPath == "" {
		*keyPath = filepath.Join(*stateDir, witnessKeyFile)
		if err := ensureWitnessKey(e, *keyPath, *name); err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
	}
	_, skey, err := readSignerKey(e, *keyPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}
	cosigVKey, err := witness.CosignerVerifierKey(skey)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}

	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	w, err := witness.New(*logURL, v, skey, *stateDir, witness.WithLogger(logger), witness.WithOrigin(*origin))
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	logger.InfoContext(ctx, "witness started", slog.String("log", *logURL), slog.String("state", *stateDir),
		slog.String("cosignature_verifier_key", cosigVKey), slog.Duration("interval", *interval), slog.Bool("once", *once))

	if *once {
		cp, err := w.Poll(ctx)
		if err != nil {
			return witnessExit(e, err)
		}
		fmt.Fprintf(e.stdout, "Witnessed checkpoint %s at size %d.\n", cp.Origin, cp.Size)
		return exitOK
	}
	if err := w.Run(ctx, *interval); err != nil {
		return witnessExit(e, err)
	}
	logger.InfoContext(ctx, "witness stopped", slog.String("log", *logURL))
	return exitOK
}

func witnessExit(e *env, err error) int {
	var alert *witness.AlertError
	if errors.As(err, &alert) {
		fmt.Fprintf(e.stderr, "ALERT: %v\n", err)
		if alert.Evidence != "" {
			fmt.Fprintf(e.stderr, "Both checkpoints are kept in %s.\n", alert.Evidence)
		}
		return exitBroken
	}
	fmt.Fprintf(e.stderr, "Error: %v\n", err)
	return exitError
}

// ensureWitnessKey makes a witness signer key at path unless one exists.
func ensureWitnessKey(e *env, path, name string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	skey, _, err := tlog.GenerateKey(name)
	if err != nil {
		return err
	}
	if err := writeNewFile(path, skey+"\n", 0o600); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Made a witness key in %s.\n", path)
	return nil
}
