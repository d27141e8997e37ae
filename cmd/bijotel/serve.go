package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/server"
	"github.com/bijotel/bijotel-go/tlog"
)

// version is reported by serve's /api/version; release builds set it with
// -ldflags "-X main.version=...".
var version = "devel"

// stringList is a flag that may be given more than once.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runServe(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dbPath := fs.String("db", "chain.db", "path of the chain database (created when missing)")
	secretFile := fs.String("secret-file", "", "file holding the hex HMAC secret (default: the "+secretEnvName+" environment variable)")
	grpcAddr := fs.String("grpc-addr", server.DefaultGRPCAddr, "OTLP/gRPC listen address, or - to disable")
	httpAddr := fs.String("http-addr", server.DefaultHTTPAddr, "OTLP/HTTP listen address, or - to disable")
	apiAddr := fs.String("api-addr", server.DefaultAPIAddr, "REST API and /metrics listen address, or - to disable")
	tokenFile := fs.String("api-token-file", "", "file holding the bearer token that clients must send (default: the BIJOTEL_API_TOKEN environment variable); required to listen beyond loopback")
	var cors stringList
	fs.Var(&cors, "cors-origin", "`origin` allowed to call the REST API from a browser; repeat for more (default: none)")
	maxBytes := fs.Int64("max-request-bytes", server.DefaultMaxRequestBytes, "largest OTLP request body, in bytes, after decompression")
	maxSpans := fs.Int("max-spans", server.DefaultMaxSpansPerRequest, "largest number of spans in one OTLP request")
	maxAttr := fs.Int("max-attribute-bytes", server.DefaultMaxAttributeBytes, "largest attribute value, in bytes; a span with a larger one is rejected alone")
	all := fs.Bool("all", false, "seal every span, not only spans with gen_ai.* or bijotel.mcp.* attributes")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	signerKey := fs.String("signer-key", "", "`FILE` holding a signer key from bijotel keygen --signer; turns on automatic signed checkpoints")
	checkpointDir := fs.String("checkpoint-dir", "", "`DIR` for the signed checkpoints, outside the database's directory (required with --signer-key)")
	checkpointEvery := fs.Uint64("checkpoint-every", tlog.DefaultEvery, "sign a checkpoint after this many new entries")
	checkpointInterval := fs.Duration("checkpoint-interval", time.Minute, "sign a checkpoint after this long when there is any new entry")
	origin := fs.String("origin", "", "log origin named in checkpoints (default: the signer key's name)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: bijotel serve --db PATH [flags]")
		fmt.Fprintln(e.stderr, "Receives OTLP traces over gRPC and HTTP, seals GenAI spans into the chain, and serves the REST API.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseErrorCode(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "Error: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(e.stderr, "Error: invalid --log-level %q: use debug, info, warn or error\n", *logLevel)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	secretHex := ""
	if *secretFile != "" {
		data, err := os.ReadFile(*secretFile)
		if err != nil {
			fmt.Fprintf(e.stderr, "Error: read --secret-file: %v\n", err)
			return exitUsage
		}
		secretHex = strings.TrimSpace(string(data))
	}
	secret, err := loadSecretFrom(e, secretHex, "--secret-file")
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}
	token := e.getenv("BIJOTEL_API_TOKEN")
	if *tokenFile != "" {
		data, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(e.stderr, "Error: read --api-token-file: %v\n", err)
			return exitUsage
		}
		token = strings.TrimSpace(string(data))
	}

	_, statErr := os.Stat(*dbPath)
	created := errors.Is(statErr, os.ErrNotExist)
	chain, err := bijotel.Open(*dbPath, secret, bijotel.WithLogger(logger))
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	defer chain.Close()

	cfg := server.Config{
		Chain: chain, Secret: secret,
		GRPCAddr: *grpcAddr, HTTPAddr: *httpAddr, APIAddr: *apiAddr,
		APIToken: token, CORSOrigins: cors,
		MaxRequestBytes: *maxBytes, MaxSpansPerRequest: *maxSpans, MaxAttributeBytes: *maxAttr,
		Logger: logger, Version: version,
	}
	if *all {
		cfg.Filter = bijotel.AllSpans
	}
	if *signerKey != "" || *checkpointDir != "" {
		if *signerKey == "" || *checkpointDir == "" {
			fmt.Fprintln(e.stderr, "Error: automatic checkpoints need both --signer-key FILE and --checkpoint-dir DIR")
			return exitUsage
		}
		signer, _, err := readSignerKey(e, *signerKey)
		if err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitUsage
		}
		opts := []tlog.CheckpointerOption{tlog.WithEvery(*checkpointEvery), tlog.WithInterval(*checkpointInterval), tlog.WithLogger(logger)}
		if *origin != "" {
			opts = append(opts, tlog.WithOrigin(*origin))
		}
		cfg.Checkpointer, err = tlog.NewCheckpointer(chain, signer, *checkpointDir, opts...)
		if err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitUsage
		}
	}
	srv, err := server.New(cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}
	if err := srv.Listen(); err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		// Stop the writer, and remove a database this run created, so that a
		// failed start leaves nothing behind.
		stopped, cancel := context.WithCancel(ctx)
		cancel()
		srv.Serve(stopped)
		if created {
			chain.Close()
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(*dbPath + suffix)
			}
		}
		return exitError
	}
	if err := srv.Serve(ctx); err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	return exitOK
}
