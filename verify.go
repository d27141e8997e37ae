package bijotel

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

// ErrBroken is wrapped by BrokenError.
var ErrBroken = errors.New("chain broken")

// BrokenError reports the first entry at which a chain fails verification.
type BrokenError struct {
	// Seq is the first seq at which the chain is broken. For a truncated
	// tail it is the first missing seq.
	Seq int64
	// Reason says what failed, in the words of the verify command.
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("chain broken at seq=%d: %s", e.Seq, e.Reason)
}

func (e *BrokenError) Unwrap() error { return ErrBroken }

// Report is the result of Verify.
type Report struct {
	// Valid is true when every checked entry verified.
	Valid bool `json:"valid"`
	// Segment is true when a seq or time range was checked rather than the
	// whole chain.
	Segment bool `json:"segment"`
	// From and To are the first and last seq checked; both are 0 when no
	// entry was checked.
	From int64 `json:"from_seq"`
	To   int64 `json:"to_seq"`
	// Checked counts the entries verified before the walk ended.
	Checked int64 `json:"checked"`
	// Total is the number of entries in the chain.
	Total int64 `json:"total"`
	// Spans and Events count checked entries by kind: span bodies and
	// non-span entries.
	Spans  int64 `json:"span_entries"`
	Events int64 `json:"event_entries"`
	// LossEntries counts the sealed records of spans that a writer had to
	// drop, and LostSpans adds up the spans they report.
	LossEntries int64 `json:"loss_entries"`
	LostSpans   int64 `json:"lost_spans"`
	// Broken is set when Valid is false.
	Broken *BrokenError `json:"-"`
	// Head is the hmac_hash of the last checked entry.
	Head string `json:"head,omitempty"`
}

// Err returns Broken, or nil when the report is valid.
func (r *Report) Err() error {
	if r.Broken == nil {
		return nil
	}
	return r.Broken
}

// VerifyOption configures Verify.
type VerifyOption interface {
	applyVerify(*verifyConfig)
}

type verifyConfig struct {
	from, to     int64
	ranged       bool
	trustFrom    int64
	headSeq      int64
	headHMAC     string
	workers      int
	batchSize    int
	progress     func(checked, total int64)
	skipSequence bool
}

type verifyOptionFunc func(*verifyConfig)

func (f verifyOptionFunc) applyVerify(c *verifyConfig) { f(c) }

// WithSeqRange limits verification to entries with from <= seq <= to. The
// first entry's prev_hash is taken as stored, because its HMAC covers it.
func WithSeqRange(from, to int64) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) {
		c.from, c.to, c.ranged = from, to, true
	})
}

// WithTrustFrom starts a whole-chain verification at seq, trusting that
// entry's prev_hash instead of requiring seq 1 with GenesisHash. Use it for a
// chain whose older entries were archived; without it such a chain is broken.
func WithTrustFrom(seq int64) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) { c.trustFrom = seq })
}

// WithExpectedHead requires the chain to contain the entry seq with the
// given hmac_hash, as remembered from an earlier verification or checkpoint.
// It detects rows deleted from the tail and history rewritten since.
func WithExpectedHead(seq int64, hmacHash string) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) { c.headSeq, c.headHMAC = seq, hmacHash })
}

// WithWorkers sets how many goroutines hash entries. The default is
// runtime.GOMAXPROCS(0).
func WithWorkers(n int) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) {
		if n > 0 {
			c.workers = n
		}
	})
}

// WithProgress sets a function that Verify calls from one goroutine after
// each batch of entries, with the entries checked so far and the number it
// expects to check.
func WithProgress(fn func(checked, total int64)) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) { c.progress = fn })
}

// Verify walks the chain and checks every entry: canonical_hash against the
// body, prev_hash against the previous entry, hmac_hash against secret, and
// the trace_id, span_id, span_name, span_kind and timestamp_ns columns
// against the body wherever the body carries them. A whole-chain walk also
// requires the first entry to be seq 1 with GenesisHash (see WithTrustFrom)
// and reports rows deleted from the tail when sqlite_sequence remembers a
// larger seq than the last row.
//
// A broken chain is not an error: the report says where it breaks. The error
// is for failures to read the chain or a canceled ctx. Reading runs in one
// goroutine and hashing in several; memory stays bounded whatever the chain's
// length.
func Verify(ctx context.Context, c *Chain, secret []byte, opts ...VerifyOption) (*Report, error) {
	cfg := verifyConfig{workers: runtime.GOMAXPROCS(0), batchSize: 256}
	for _, o := range opts {
		o.applyVerify(&cfg)
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("verify %s: %w: the secret is empty", c.path, ErrInvalidSecret)
	}

	bounds, err := c.Bounds(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{Total: bounds.Count, Valid: true}

	// Settle which seq range to walk and what its first entry must link to.
	from, to := bounds.First, bounds.Last
	requireGenesis := true
	switch {
	case cfg.ranged:
		rep.Segment = true
		from, to = max(cfg.from, bounds.First), min(cfg.to, bounds.Last)
		requireGenesis = from == 1
	case cfg.trustFrom > 0:
		from = cfg.trustFrom
		requireGenesis = false
	}

	if !cfg.ranged {
		if b := checkStart(bounds, cfg.trustFrom); b != nil {
			return rep.fail(b), nil
		}
	}

	// observedHead is the hmac_hash found at cfg.headSeq, if the walk saw it.
	var observedHead string
	if bounds.Count > 0 && from <= to {
		w := &walker{chain: c, secret: secret, cfg: &cfg, rep: rep, requireGenesis: requireGenesis}
		if err := w.run(ctx, from, to); err != nil {
			return nil, err
		}
		observedHead = w.observedHead
		if !rep.Valid {
			return rep, nil
		}
	}

	if !cfg.ranged {
		if b := checkTail(bounds, &cfg, observedHead); b != nil {
			return rep.fail(b), nil
		}
	}
	return rep, nil
}

func (r *Report) fail(b *BrokenError) *Report {
	r.Valid = false
	r.Broken = b
	return r
}

// checkStart checks that a whole-chain walk begins where it must.
func checkStart(b Bounds, trustFrom int64) *BrokenError {
	if b.Count == 0 {
		return nil
	}
	if trustFrom > 0 {
		if b.First > trustFrom {
			return &BrokenError{Seq: trustFrom, Reason: fmt.Sprintf("entry seq=%d to trust is missing: the chain starts at seq %d", trustFrom, b.First)}
		}
		if trustFrom > b.Last {
			return &BrokenError{Seq: trustFrom, Reason: fmt.Sprintf("entry seq=%d to trust is missing: the chain ends at seq %d", trustFrom, b.Last)}
		}
		return nil
	}
	if b.First != 1 {
		return &BrokenError{Seq: b.First, Reason: fmt.Sprintf(
			"chain starts at seq %d, not 1: entries 1-%d were deleted (to verify a chain whose head was archived, name the first seq to trust with --trust-from %d)",
			b.First, b.First-1, b.First)}
	}
	return nil
}

// checkTail looks for rows deleted from the end of the chain.
func checkTail(b Bounds, cfg *verifyConfig, observedHead string) *BrokenError {
	if cfg.headSeq > 0 {
		if b.Last < cfg.headSeq {
			return &BrokenError{Seq: b.Last + 1, Reason: fmt.Sprintf(
				"tail truncated: the expected head is seq %d but the chain ends at seq %d", cfg.headSeq, b.Last)}
		}
		if observedHead != cfg.headHMAC {
			return &BrokenError{Seq: cfg.headSeq, Reason: "hmac_hash differs from the expected head: history was rewritten or rolled back"}
		}
	}
	if b.Sequence > b.Last {
		if b.Count == 0 {
			return &BrokenError{Seq: 1, Reason: fmt.Sprintf("all rows were deleted (sqlite_sequence = %d)", b.Sequence)}
		}
		return &BrokenError{Seq: b.Last + 1, Reason: fmt.Sprintf("rows after seq %d were deleted (sqlite_sequence = %d)", b.Last, b.Sequence)}
	}
	return nil
}

// Message returns the one-line result in the words of the verify command:
// "Chain VALID (N entries).", "Chain segment VALID: seq A-B (n entries of N
// total)." or "Chain BROKEN at seq=N: REASON". Python BIJOTEL's CLI prints
// the same lines, and scripts match them.
func (r *Report) Message() string {
	switch {
	case !r.Valid:
		return fmt.Sprintf("Chain BROKEN at seq=%d: %s", r.Broken.Seq, r.Broken.Reason)
	case r.Segment:
		return fmt.Sprintf("Chain segment VALID: seq %d-%d (%d entries of %d total).", r.From, r.To, r.Checked, r.Total)
	}
	return fmt.Sprintf("Chain VALID (%d entries).", r.Checked)
}

// VerifyResult is the machine-readable form of a Report, printed by
// bijotel verify --json and returned by the REST API. Its field names are
// stable, because scripts read them.
type VerifyResult struct {
	// Status is VALID or BROKEN.
	Status string `json:"status"`
	*Report
	BrokenSeq    int64  `json:"broken_seq,omitempty"`
	BrokenReason string `json:"broken_reason,omitempty"`
	// Message is Report.Message.
	Message string `json:"message"`
}

// NewVerifyResult returns the machine-readable form of rep.
func NewVerifyResult(rep *Report) VerifyResult {
	out := VerifyResult{Status: "VALID", Report: rep, Message: rep.Message()}
	if !rep.Valid {
		out.Status = "BROKEN"
		out.BrokenSeq = rep.Broken.Seq
		out.BrokenReason = rep.Broken.Reason
	}
	return out
}
