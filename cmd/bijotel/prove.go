package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/internal/atomicfile"
	"github.com/bijotel/bijotel-go/tlog"
)

func runProve(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("prove", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dbPath := fs.String("db", "chain.db", "path of the chain database")
	seq := fs.Int64("seq", 0, "`seq` of the entry to prove (required)")
	cpPath := fs.String("checkpoint", "", "prove against the signed checkpoint in `FILE`")
	keyPath := fs.String("signer-key", "", "or sign a checkpoint of the whole chain now with the signer key in `FILE`")
	origin := fs.String("origin", "", "with --signer-key: origin line of the new checkpoint (default: the key's name)")
	out := fs.String("out", "", "write the bundle to `FILE` instead of stdout")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: bijotel prove --db PATH --seq N (--checkpoint FILE | --signer-key FILE) [--out FILE]")
		fmt.Fprintln(e.stderr, "Prints a JSON proof bundle: the entry, its inclusion proof and the signed checkpoint.")
		fmt.Fprintln(e.stderr, "Anyone can check it with bijotel verify-proof and the log's verifier key, without the database or the HMAC secret.")
		fmt.Fprintln(e.stderr, "The bundle contains the entry's body: share it only with whoever may read that entry.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseErrorCode(err)
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(e.stderr, "Error: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	case *seq < 1:
		fmt.Fprintln(e.stderr, "Error: missing --seq N: the seq of the entry to prove, 1 or more")
		return exitUsage
	case (*cpPath == "") == (*keyPath == ""):
		fmt.Fprintln(e.stderr, "Error: prove needs exactly one of --checkpoint FILE (from bijotel checkpoint) and --signer-key FILE (to sign one now)")
		return exitUsage
	}

	var chain *bijotel.Chain
	var cp *tlog.Checkpoint
	var err error
	if *cpPath != "" {
		data, err := os.ReadFile(*cpPath)
		if err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
		if cp, err = tlog.ParseUnverified(data); err != nil {
			fmt.Fprintf(e.stderr, "Error: %s: %v\n", *cpPath, err)
			return exitUsage
		}
		chain, err = bijotel.OpenReadOnly(*dbPath)
		if err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
	} else {
		signer, _, err := readSignerKey(e, *keyPath)
		if err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitUsage
		}
		if chain, err = bijotel.OpenForTree(*dbPath); err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
		if cp, err = tlog.Sign(ctx, chain, signer, *origin); err != nil {
			chain.Close()
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
	}
	defer chain.Close()

	b, err := tlog.Prove(ctx, chain, *seq, cp)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		if errors.Is(err, bijotel.ErrBeyondTree) || errors.Is(err, bijotel.ErrNotFound) {
			return exitUsage
		}
		return exitError
	}
	data, err := b.Marshal()
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	if *out == "" {
		e.stdout.Write(data)
	} else if err := atomicfile.Write(*out, data, 0o600); err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	fmt.Fprintf(e.stderr, "Proof of seq %d against checkpoint %s (size %d), %d bytes.\n", *seq, cp.Origin, cp.Size, len(data))
	return exitOK
}

func runVerifyProof(_ context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("verify-proof", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	verifierKey := fs.String("verifier-key", "", "the log's verifier `KEY`, or a file holding it (required)")
	origin := fs.String("origin", "", "require this origin line in the checkpoint (default: any)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: bijotel verify-proof BUNDLE --verifier-key KEY")
		fmt.Fprintln(e.stderr, "Checks a proof bundle from bijotel prove with the log's public key alone: the checkpoint's signature,")
		fmt.Fprintln(e.stderr, "the entry's canonical_hash and columns, and its inclusion proof. BUNDLE - reads stdin.")
		fmt.Fprintln(e.stderr, "Exit codes: 0 valid, 1 error, 2 usage, 3 invalid bundle.")
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return parseErrorCode(err)
	}
	if len(positional) != 1 {
		fmt.Fprintln(e.stderr, "Error: verify-proof needs exactly one BUNDLE argument")
		return exitUsage
	}
	if *verifierKey == "" {
		fmt.Fprintln(e.stderr, "Error: missing --verifier-key KEY: the log's public key")
		return exitUsage
	}
	v, err := readVerifierKey(*verifierKey)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}

	var data []byte
	if positional[0] == "-" {
		data, err = io.ReadAll(io.LimitReader(e.stdin, maxBundleBytes))
	} else {
		data, err = os.ReadFile(positional[0])
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}

	got, err := tlog.VerifyBundle(data, v, *origin)
	if err != nil {
		fmt.Fprintf(e.stderr, "Proof INVALID: %v\n", err)
		return exitBroken
	}
	fmt.Fprintf(e.stdout, "Proof VALID: seq %d (%s) is in the tree of size %d signed by %s (origin %s, root %s).\n",
		got.Entry.Seq, got.Entry.SpanName, got.Checkpoint.Size, v.Name(), got.Checkpoint.Origin, base64.StdEncoding.EncodeToString(got.Checkpoint.Root))
	return exitOK
}

// maxBundleBytes caps a bundle read from stdin.
const maxBundleBytes = 64 << 20

// parseInterspersed parses flags that may come before or after the
// positional arguments, which flag.FlagSet alone does not allow, and
// returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
