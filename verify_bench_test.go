package bijotel

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var benchVerifyRows = flag.Int("bench-verify-rows", 1_000_000, "number of entries in the chain that BenchmarkVerify builds")

// benchSpan returns a span whose canonical body is about 1 KB.
func benchSpan(i int) *Span {
	return &Span{
		TraceID:           fmt.Sprintf("%032x", i+1),
		SpanID:            fmt.Sprintf("%016x", i+1),
		Name:              "chat gpt-4o-mini",
		Kind:              "CLIENT",
		StartTimeUnixNano: uint64(1700000000000000000 + int64(i)*1000),
		EndTimeUnixNano:   uint64(1700000000000000500 + int64(i)*1000),
		Attributes: []Attribute{
			{Key: "gen_ai.operation.name", Value: "chat"},
			{Key: "gen_ai.provider.name", Value: "openai"},
			{Key: "gen_ai.request.model", Value: "gpt-4o-mini"},
			{Key: "gen_ai.usage.input_tokens", Value: int64(120 + i%50)},
			{Key: "gen_ai.usage.output_tokens", Value: int64(40 + i%30)},
			{Key: "gen_ai.input.messages", Value: `[{"role":"user","parts":[{"type":"text","content":"` + strings.Repeat("Summarise the quarterly incident report. ", 10) + `"}]}]`},
			{Key: "gen_ai.output.messages", Value: `[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"` + strings.Repeat("The outage was caused by a config push. ", 6) + fmt.Sprint(i) + `"}]}]`},
		},
	}
}

// BenchmarkVerify builds a chain of -bench-verify-rows entries of about 1 KB
// and reports, from one run, the entries per second of a full Verify and of
// SHA-256 alone over the same bodies as they are read from the file.
//
//	go test -run='^$' -bench=BenchmarkVerify -benchtime=1x .
func BenchmarkVerify(b *testing.B) {
	secret := mustSecret(b, fixtureSecretHex)
	path := filepath.Join(b.TempDir(), "chain.db")
	c, err := Open(path, secret)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const batch = 5000
	var bodyBytes int64
	for i := 0; i < *benchVerifyRows; i += batch {
		var records []Record
		for j := i; j < min(i+batch, *benchVerifyRows); j++ {
			r, err := SpanRecord(benchSpan(j))
			if err != nil {
				b.Fatal(err)
			}
			bodyBytes += int64(len(r.Body))
			records = append(records, r)
		}
		if _, err := c.Append(ctx, records); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	rows := int64(*benchVerifyRows)
	b.Logf("chain of %d entries, mean body %d bytes", rows, bodyBytes/rows)

	r, err := OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()

	var verifyTime, hashTime time.Duration
	for b.Loop() {
		start := time.Now()
		rep, err := Verify(ctx, r, secret)
		if err != nil || !rep.Valid || rep.Checked != rows {
			b.Fatalf("Verify = %+v, %v", rep, err)
		}
		verifyTime += time.Since(start)

		start = time.Now()
		var n int64
		err = r.Scan(ctx, 1, rows, func(e *Entry) error {
			sum := sha256.Sum256(e.CanonicalBody)
			_ = sum
			n++
			return nil
		})
		if err != nil || n != rows {
			b.Fatalf("Scan = %d rows, %v", n, err)
		}
		hashTime += time.Since(start)
	}
	runs := float64(b.N)
	b.ReportMetric(float64(rows)*runs/verifyTime.Seconds(), "verify-entries/s")
	b.ReportMetric(float64(rows)*runs/hashTime.Seconds(), "read+sha256-entries/s")
	b.ReportMetric(verifyTime.Seconds()/hashTime.Seconds(), "verify/sha256-time")
}
