package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/otlp"
)

func runImport(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dbPath := fs.String("db", "chain.db", "path of the chain database (created when missing)")
	secretHex := secretFlag(fs)
	all := fs.Bool("all", false, "seal every span, not only spans with gen_ai.* or bijotel.mcp.* attributes")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: bijotel import --db PATH [flags] FILE")
		fmt.Fprintln(e.stderr, "Seals the spans of an OTLP/JSON file: one ExportTraceServiceRequest per line, as the")
		fmt.Fprintln(e.stderr, "OpenTelemetry Collector's file exporter writes, or one request for the whole file.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseErrorCode(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "Error: import needs exactly one FILE argument")
		return exitUsage
	}
	secret, err := loadSecret(e, *secretHex)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}

	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	defer f.Close()

	chain, err := bijotel.Open(*dbPath, secret)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	defer chain.Close()

	filter := bijotel.DefaultFilter
	if *all {
		filter = bijotel.AllSpans
	}
	var sealed, skipped int
	err = otlp.ReadFile(f, func(line int, spans []bijotel.Span) error {
		records := make([]bijotel.Record, 0, len(spans))
		for i := range spans {
			if !filter(&spans[i]) {
				skipped++
				continue
			}
			r, err := bijotel.SpanRecord(&spans[i])
			if err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			records = append(records, r)
		}
		// One transaction per request: a request is sealed whole or not at all.
		if _, err := chain.Append(ctx, records); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		sealed += len(records)
		return nil
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		if sealed > 0 {
			fmt.Fprintf(e.stderr, "%d spans from the lines before the error were sealed; fix the file and import the remaining lines.\n", sealed)
		}
		return exitError
	}
	fmt.Fprintf(e.stdout, "Imported %d spans into %s (%d skipped by the filter).\n", sealed, *dbPath, skipped)
	return exitOK
}
