package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"

	bijotel "github.com/bijotel/bijotel-go"
)

// secretFlag registers --secret-hex on fs.
func secretFlag(fs *flag.FlagSet) *string {
	return fs.String("secret-hex", "", "HMAC secret as hex (default: the "+secretEnvName+" environment variable); prefer the variable, because flags show in process lists")
}

// loadSecret returns the secret from the flag or the environment. Its error
// message never contains any part of the secret.
func loadSecret(e *env, flagValue string) ([]byte, error) {
	return loadSecretFrom(e, flagValue, "--secret-hex")
}

// loadSecretFrom is loadSecret for a command whose secret flag is flagName.
func loadSecretFrom(e *env, flagValue, flagName string) ([]byte, error) {
	value, source := flagValue, flagName
	if value == "" {
		value, source = e.getenv(secretEnvName), secretEnvName
	}
	if value == "" {
		return nil, errors.New("no HMAC secret: set " + secretEnvName + " to the hex secret or pass " + flagName + " (bijotel keygen makes one)")
	}
	secret, err := bijotel.ParseSecret(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return secret, nil
}

func runKeygen(_ context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	signer := addSignerKeygenFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: bijotel keygen [--signer NAME [--signer-key-out FILE] [--verifier-key-out FILE]]")
		fmt.Fprintln(e.stderr, "Prints a new random 32-byte HMAC secret in hex on stdout, or with --signer a checkpoint key pair.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseErrorCode(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "Error: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if signer.requested() {
		return signer.run(e)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		fmt.Fprintf(e.stderr, "Error: read random bytes: %v\n", err)
		return exitError
	}
	fmt.Fprintln(e.stdout, hex.EncodeToString(secret))
	fmt.Fprintln(e.stderr, "The line on stdout is a new HMAC secret for a bijotel chain. Save it, for example with")
	fmt.Fprintln(e.stderr, "  (umask 077 && bijotel keygen > secret.hex)")
	fmt.Fprintln(e.stderr, "and give it to every writer and verifier of the chain:")
	fmt.Fprintln(e.stderr, "  export "+secretEnvName+"=$(cat secret.hex)")
	fmt.Fprintln(e.stderr, "Keep it in a secret store, never in the repository: whoever holds it can verify the chain and also forge entries.")
	return exitOK
}
