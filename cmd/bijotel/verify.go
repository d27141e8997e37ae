package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	bijotel "github.com/bijotel/bijotel-go"
)

// progressMinEntries is the chain size from which verify draws a progress
// bar, when stderr is a terminal.
const progressMinEntries = 100_000

func runVerify(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dbPath := fs.String("db", "chain.db", "path of the chain database")
	secretHex := secretFlag(fs)
	seqRange := fs.String("range", "", "verify only seq `A:B` (inclusive)")
	since := fs.String("since", "", "verify only entries from this UTC day on (`YYYY-MM-DD`)")
	until := fs.String("until", "", "verify only entries up to the end of this UTC day (`YYYY-MM-DD`)")
	last := fs.Int64("last", 0, "verify only the newest `N` entries")
	trustFrom := fs.Int64("trust-from", 0, "verify from this `seq` on, trusting its prev_hash, for a chain whose older entries were archived")
	expectHead := fs.String("expect-head", "", "fail unless the chain holds this earlier head, given as `SEQ:HMAC` (from a previous --json report)")
	asJSON := fs.Bool("json", false, "print a JSON report on stdout")
	cpFlags := addCheckpointFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: bijotel verify --db PATH [flags]")
		fmt.Fprintln(e.stderr, "Checks every entry of the chain. Exit codes: 0 valid, 1 error, 2 missing or invalid secret, 3 broken.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseErrorCode(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "Error: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}

	opts, err := verifyOptions(*expectHead, *trustFrom)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}
	checkpoint, code, err := cpFlags.load()
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return code
	}
	ranges := 0
	lastSet := false
	fs.Visit(func(f *flag.Flag) { lastSet = lastSet || f.Name == "last" })
	for _, set := range []bool{*seqRange != "", *since != "" || *until != "", lastSet} {
		if set {
			ranges++
		}
	}
	if ranges > 1 {
		fmt.Fprintln(e.stderr, "Error: --range, --since/--until and --last select different segments: pass only one of them")
		return exitUsage
	}

	if _, err := os.Stat(*dbPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(e.stderr, "Error: database not found: %s\n", *dbPath)
		} else {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
		}
		return exitError
	}
	secret, err := loadSecret(e, *secretHex)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}

	chain, err := bijotel.OpenReadOnly(*dbPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	defer chain.Close()

	segment, empty, err := segmentOption(ctx, chain, *seqRange, *since, *until, *last, lastSet)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitUsage
	}
	if empty {
		// A date typo must not look like a verified segment.
		stats, err := chain.Stats(ctx)
		if err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
		fmt.Fprintf(e.stderr, "Error: no entries in the selected days; the chain's %d entries are from %s to %s (UTC)\n",
			stats.Count, dayOf(stats.FirstTimestampNS), dayOf(stats.LastTimestampNS))
		return exitError
	}
	if segment != nil {
		opts = append(opts, segment)
	}

	var bar *progressBar
	if e.isTerminal && !*asJSON {
		bar = &progressBar{w: e.stderr, min: progressMinEntries}
		opts = append(opts, bijotel.WithProgress(bar.update))
	}
	rep, err := bijotel.Verify(ctx, chain, secret, opts...)
	bar.finish()
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	var extendsLine string
	if checkpoint != nil {
		if extendsLine, err = checkExtends(ctx, e, chain, rep, checkpoint); err != nil {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
	}

	if *asJSON {
		printJSONReport(e, *dbPath, rep)
	} else {
		printReport(e, rep)
		if rep.Valid && extendsLine != "" {
			fmt.Fprintln(e.stdout, extendsLine)
		}
	}
	if !rep.Valid {
		return exitBroken
	}
	return exitOK
}

func verifyOptions(expectHead string, trustFrom int64) ([]bijotel.VerifyOption, error) {
	var opts []bijotel.VerifyOption
	if trustFrom < 0 {
		return nil, fmt.Errorf("invalid --trust-from %d: need a seq of 1 or more", trustFrom)
	}
	if trustFrom > 0 {
		opts = append(opts, bijotel.WithTrustFrom(trustFrom))
	}
	if expectHead != "" {
		seqText, mac, ok := strings.Cut(expectHead, ":")
		seq, err := strconv.ParseInt(seqText, 10, 64)
		if !ok || err != nil || seq < 1 || len(mac) != 64 {
			return nil, fmt.Errorf("invalid --expect-head %q: need SEQ:HMAC, such as 42:%s", expectHead, strings.Repeat("ab", 32))
		}
		opts = append(opts, bijotel.WithExpectedHead(seq, strings.ToLower(mac)))
	}
	return opts, nil
}

// segmentOption turns the segment flags into a seq range. empty is true when
// the flags select no entry at all.
func segmentOption(ctx context.Context, chain *bijotel.Chain, seqRange, since, until string, last int64, lastSet bool) (opt bijotel.VerifyOption, empty bool, err error) {
	switch {
	case seqRange != "":
		a, b, ok := strings.Cut(seqRange, ":")
		from, errA := strconv.ParseInt(a, 10, 64)
		to, errB := strconv.ParseInt(b, 10, 64)
		if !ok || errA != nil || errB != nil || from < 1 || to < from {
			return nil, false, fmt.Errorf("invalid --range %q: need A:B with 1 <= A <= B, such as 1:100", seqRange)
		}
		return bijotel.WithSeqRange(from, to), false, nil

	case since != "" || until != "":
		fromNS, toNS := int64(0), int64(1<<63-1)
		if since != "" {
			day, err := time.Parse(time.DateOnly, since)
			if err != nil {
				return nil, false, fmt.Errorf("invalid --since %q: need a date such as 2026-01-31", since)
			}
			fromNS = day.UnixNano()
		}
		if until != "" {
			day, err := time.Parse(time.DateOnly, until)
			if err != nil {
				return nil, false, fmt.Errorf("invalid --until %q: need a date such as 2026-01-31", until)
			}
			toNS = day.AddDate(0, 0, 1).UnixNano()
		}
		first, lastSeq, ok, err := chain.SeqRangeForTime(ctx, fromNS, toNS)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return bijotel.WithSeqRange(1, 0), true, nil
		}
		return bijotel.WithSeqRange(first, lastSeq), false, nil

	case lastSet:
		if last < 1 {
			return nil, false, fmt.Errorf("invalid --last %d: need a count of 1 or more", last)
		}
		b, err := chain.Bounds(ctx)
		if err != nil {
			return nil, false, err
		}
		return bijotel.WithSeqRange(max(b.Last-last+1, 1), b.Last), false, nil
	}
	return nil, false, nil
}

func printReport(e *env, rep *bijotel.Report) {
	if !rep.Valid {
		fmt.Fprintln(e.stderr, rep.Message())
		return
	}
	fmt.Fprintln(e.stdout, rep.Message())
	if rep.LossEntries > 0 {
		fmt.Fprintf(e.stdout, "Warning: %d loss entries record %d spans that writers dropped before sealing.\n", rep.LossEntries, rep.LostSpans)
	}
}

// jsonReport is the --json output: the shared result plus the database path.
type jsonReport struct {
	DB string `json:"db"`
	bijotel.VerifyResult
}

func printJSONReport(e *env, dbPath string, rep *bijotel.Report) {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(jsonReport{DB: dbPath, VerifyResult: bijotel.NewVerifyResult(rep)})
}

// progressBar draws verification progress on a terminal. A nil bar does
// nothing.
type progressBar struct {
	w     interface{ Write([]byte) (int, error) }
	min   int64
	drawn bool
	last  int
}

func (p *progressBar) update(checked, total int64) {
	if total < p.min || total <= 0 {
		return
	}
	percent := int(checked * 100 / total)
	if p.drawn && percent == p.last {
		return
	}
	const width = 40
	filled := percent * width / 100
	fmt.Fprintf(p.w, "\rverifying [%s%s] %3d%% %d/%d", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), percent, checked, total)
	p.drawn, p.last = true, percent
}

func (p *progressBar) finish() {
	if p != nil && p.drawn {
		fmt.Fprintln(p.w)
	}
}

// dayOf formats a timestamp in nanoseconds as a UTC date.
func dayOf(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.DateOnly)
}
