package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/internal/atomicfile"
	"github.com/bijotel/bijotel-go/tlog"
	"golang.org/x/mod/sumdb/note"
)

// signerKeygenFlags are the flags of bijotel keygen --signer.
type signerKeygenFlags struct {
	name, signerOut, verifierOut *string
}

func addSignerKeygenFlags(fs *flag.FlagSet) *signerKeygenFlags {
	return &signerKeygenFlags{
		name:        fs.String("signer", "", "make an Ed25519 checkpoint signer key named `NAME` (such as audit.example.com/chain) instead of an HMAC secret"),
		signerOut:   fs.String("signer-key-out", "", "with --signer: write the signer key to this new `FILE` (mode 0600) instead of stdout"),
		verifierOut: fs.String("verifier-key-out", "", "with --signer: write the verifier key to this new `FILE` instead of stdout"),
	}
}

// requested reports whether any of the flags is set.
func (f *signerKeygenFlags) requested() bool {
	return *f.name != "" || *f.signerOut != "" || *f.verifierOut != ""
}

// run makes the signer key pair. keygen calls it when requested is true.
func (f *signerKeygenFlags) run(e *env) int {
	if *f.name == "" {
		fmt.Fprintln(e.stderr, "Error: --signer-key-out and --verifier-key-out need --signer NAME")
		return exitUsage
	}
	skey, vkey, err := tlog.GenerateKey(*f.name)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}
	if *f.signerOut != "" {
		if err := writeNewFile(*f.signerOut, skey+"\n", 0o600); err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
	} else {
		fmt.Fprintln(e.stdout, skey)
	}
	if *f.verifierOut != "" {
		if err := writeNewFile(*f.verifierOut, vkey+"\n", 0o644); err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
	} else {
		fmt.Fprintln(e.stdout, vkey)
	}

	fmt.Fprintf(e.stderr, "This is a new Ed25519 key pair named %s for signing checkpoints.\n", *f.name)
	fmt.Fprintln(e.stderr, "- The signer key (PRIVATE+KEY+...) signs: keep it in a file readable only by the process that runs")
	fmt.Fprintln(e.stderr, "  bijotel checkpoint or serve, never in the repository. It cannot forge entries: that takes the HMAC secret.")
	fmt.Fprintln(e.stderr, "- The verifier key (the other line) checks: publish it, and give it to auditors and witnesses for")
	fmt.Fprintln(e.stderr, "  bijotel verify --checkpoint, bijotel verify-proof and bijotel witness.")
	if *f.signerOut != "" {
		fmt.Fprintf(e.stderr, "Signer key written to %s.\n", *f.signerOut)
	}
	if *f.verifierOut != "" {
		fmt.Fprintf(e.stderr, "Verifier key written to %s.\n", *f.verifierOut)
	}
	return exitOK
}

// writeNewFile creates path with mode perm and fails if it exists, so that
// a key is never overwritten.
func writeNewFile(path, content string, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readSignerKey reads a signer key file. The key never appears on the
// command line, where process lists would show it.
func readSignerKey(e *env, path string) (note.Signer, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read signer key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(e.stderr, "Warning: signer key file %s has mode %v; others can read it (chmod 600 %s)\n", path, fi.Mode().Perm(), path)
	}
	s, err := tlog.NewSigner(string(data))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return s, strings.TrimSpace(string(data)), nil
}

// readVerifierKey takes a verifier key given as the key itself or as the
// name of a file that holds it.
func readVerifierKey(value string) (note.Verifier, error) {
	if v, err := tlog.NewVerifier(value); err == nil {
		return v, nil
	}
	if strings.HasPrefix(strings.TrimSpace(value), "PRIVATE+KEY+") {
		return nil, errors.New("--verifier-key is a signer (private) key: pass the verifier key, which bijotel keygen --signer wrote beside it")
	}
	data, err := os.ReadFile(value)
	if err != nil {
		return nil, fmt.Errorf("--verifier-key %q is neither a verifier key (name+hash+key) nor a readable file: %w", value, err)
	}
	return tlog.NewVerifier(string(data))
}

func runCheckpoint(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("checkpoint", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dbPath := fs.String("db", "chain.db", "path of the chain database")
	keyPath := fs.String("signer-key", "", "`FILE` holding the signer key from bijotel keygen --signer (required)")
	origin := fs.String("origin", "", "origin line of the checkpoint (default: the signer key's name)")
	out := fs.String("out", "", "write the checkpoint to `FILE` instead of stdout")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: bijotel checkpoint --db PATH --signer-key FILE [--origin NAME] [--out FILE]")
		fmt.Fprintln(e.stderr, "Brings the chain's Merkle tree up to date and prints a signed checkpoint of it (C2SP tlog-checkpoint).")
		fmt.Fprintln(e.stderr, "Keep checkpoints away from the database: they expose a chain truncated or rewritten after them.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseErrorCode(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "Error: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *keyPath == "" {
		fmt.Fprintln(e.stderr, "Error: missing --signer-key FILE (bijotel keygen --signer NAME makes one)")
		return exitUsage
	}
	signer, _, err := readSignerKey(e, *keyPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}

	chain, err := bijotel.OpenForTree(*dbPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	defer chain.Close()
	cp, err := tlog.Sign(ctx, chain, signer, *origin)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}

	if *out == "" {
		e.stdout.Write(cp.Signed)
	} else {
		if _, err := tlog.CheckDirOutside(filepath.Dir(*out), *dbPath); errors.Is(err, tlog.ErrCheckpointDir) {
			fmt.Fprintf(e.stderr, "Warning: %s is in the database's directory; copy it elsewhere too, or it can be replaced along with the database\n", *out)
		}
		if err := atomicfile.Write(*out, cp.Signed, 0o644); err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
	}
	fmt.Fprintf(e.stderr, "Signed checkpoint of %s: origin %s, size %d.\n", *dbPath, cp.Origin, cp.Size)
	return exitOK
}

// checkpointFlags are the flags of bijotel verify --checkpoint.
type checkpointFlags struct {
	path, verifierKey, origin *string
}

func addCheckpointFlags(fs *flag.FlagSet) *checkpointFlags {
	return &checkpointFlags{
		path:        fs.String("checkpoint", "", "also require the chain to extend the signed checkpoint in `FILE`, recomputed from the rows"),
		verifierKey: fs.String("verifier-key", "", "with --checkpoint: the log's verifier `KEY`, or a file holding it"),
		origin:      fs.String("origin", "", "with --checkpoint: require this origin line (default: any)"),
	}
}

// load reads the checkpoint and checks its signature. It returns nil when
// --checkpoint is not set.
func (f *checkpointFlags) load() (*tlog.Checkpoint, int, error) {
	if *f.path == "" {
		if *f.verifierKey != "" {
			return nil, exitUsage, errors.New("--verifier-key needs --checkpoint FILE")
		}
		return nil, exitOK, nil
	}
	if *f.verifierKey == "" {
		return nil, exitUsage, errors.New("--checkpoint needs --verifier-key KEY, the log's public key, to check the signature")
	}
	v, err := readVerifierKey(*f.verifierKey)
	if err != nil {
		return nil, exitUsage, err
	}
	data, err := os.ReadFile(*f.path)
	if err != nil {
		return nil, exitError, err
	}
	cp, err := tlog.Open(data, v, *f.origin)
	if err != nil {
		return nil, exitBroken, fmt.Errorf("%s: %w", *f.path, err)
	}
	return cp, exitOK, nil
}

// checkExtends requires the chain to extend cp and records a failure in
// rep. The first failure in seq order wins, but a truncation that the
// checkpoint proves replaces the walk's failure at the same seq. It returns
// a line to print after a valid report.
func checkExtends(ctx context.Context, e *env, chain *bijotel.Chain, rep *bijotel.Report, cp *tlog.Checkpoint) (string, error) {
	err := tlog.CheckExtends(ctx, chain, cp)
	var ext *tlog.ExtendError
	if err != nil && !errors.As(err, &ext) {
		return "", err
	}
	if ext == nil {
		if err := tlog.CheckStoredTree(ctx, chain, cp); err != nil {
			fmt.Fprintf(e.stderr, "Warning: %v; proofs from this file will fail until the tree is rebuilt\n", err)
		}
		return fmt.Sprintf("Chain extends checkpoint %s (size %d).", cp.Origin, cp.Size), nil
	}

	seq := ext.Seq
	if seq == 0 {
		seq = 1
		ext.Detail = fmt.Sprintf("an entry among seq 1-%d differs from the checkpointed one", cp.Size)
	}
	broken := &bijotel.BrokenError{Seq: seq, Reason: ext.Error()}
	switch {
	case rep.Valid,
		ext.Kind == tlog.Truncated && seq <= rep.Broken.Seq,
		ext.Seq != 0 && seq < rep.Broken.Seq:
		rep.Valid = false
		rep.Broken = broken
	}
	return "", nil
}
