package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bijotel "github.com/bijotel/bijotel-go"
)

// ErrNotExtended is wrapped by ExtendError.
var ErrNotExtended = errors.New("chain does not extend the checkpoint")

// Ways in which a chain can fail to extend a checkpoint.
const (
	// Truncated: the chain has fewer entries than the checkpoint.
	Truncated = "tail truncated"
	// Missing: an entry inside the checkpoint's range is gone.
	Missing = "entries missing"
	// Rewritten: the first Size entries hash to another root.
	Rewritten = "history rewritten"
)

// ExtendError reports that a chain does not extend a checkpoint.
type ExtendError struct {
	// Kind is Truncated, Missing or Rewritten.
	Kind string
	// CheckpointSize is the checkpoint's tree size and ChainSize the largest
	// seq in the chain.
	CheckpointSize uint64
	ChainSize      uint64
	// Seq is the first entry known to be missing or to differ from the
	// checkpointed one, or 0 when the check cannot tell which.
	Seq int64
	// Detail adds what else is known, or is empty.
	Detail string
}

func (e *ExtendError) Error() string {
	msg := fmt.Sprintf("%s: checkpoint size %d, chain size %d", e.Kind, e.CheckpointSize, e.ChainSize)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

func (e *ExtendError) Unwrap() error { return ErrNotExtended }

// CheckExtends checks that the chain's first cp.Size entries are those the
// checkpoint commits to. It recomputes the root from the rows themselves and
// never from the stored tree, which an attacker can edit. It reads each row
// up to cp.Size once, without its body. It returns an *ExtendError when the
// chain was truncated, lost entries, or had its history rewritten since the
// checkpoint, even when the rewritten entries were sealed again with the
// real HMAC secret. cp must come from Open, so that its signature was
// checked.
//
// The stored tree is read only to say which entry differs, and only when its
// own root matches the signed one.
//
// NOTE: a chain whose oldest entries were archived away reports them as
// Missing: the rows needed to recompute the root are gone, and trusting the
// stored tree for them would defeat the check.
func CheckExtends(ctx context.Context, chain *bijotel.Chain, cp *Checkpoint) error {
	b, err := chain.Bounds(ctx)
	if err != nil {
		return err
	}
	chainSize := uint64(max(b.Last, 0))
	if chainSize < cp.Size {
		e := &ExtendError{Kind: Truncated, CheckpointSize: cp.Size, ChainSize: chainSize, Seq: b.Last + 1}
		switch {
		case b.Count == 0 && b.Sequence > 0:
			e.Detail = fmt.Sprintf("all rows were deleted: sqlite_sequence = %d", b.Sequence)
		case b.Sequence > b.Last:
			e.Detail = fmt.Sprintf("rows after seq %d were deleted: sqlite_sequence = %d", b.Last, b.Sequence)
		default:
			e.Detail = "rows were deleted from the end, or an older copy of the file was restored"
		}
		return e
	}

	root, err := chain.RecomputeTreeRoot(ctx, cp.Size)
	var missing *bijotel.MissingEntryError
	if errors.As(err, &missing) {
		return &ExtendError{Kind: Missing, CheckpointSize: cp.Size, ChainSize: chainSize, Seq: missing.Seq,
			Detail: fmt.Sprintf("seq %d is not in the chain", missing.Seq)}
	}
	if err != nil {
		return err
	}
	if bytes.Equal(root, cp.Root) {
		return nil
	}

	e := &ExtendError{Kind: Rewritten, CheckpointSize: cp.Size, ChainSize: chainSize,
		Detail: fmt.Sprintf("the first %d entries do not hash to the checkpoint's root", cp.Size)}
	if seq, ok := locateRewrite(ctx, chain, cp); ok {
		e.Seq = seq
		e.Detail = fmt.Sprintf("seq %d differs from the checkpointed entry", seq)
	}
	return e
}

// locateRewrite finds the first rewritten entry with the stored tree's
// leaves, when the stored tree still has the root the checkpoint signed.
func locateRewrite(ctx context.Context, chain *bijotel.Chain, cp *Checkpoint) (int64, bool) {
	stored, err := chain.TreeRoot(ctx, cp.Size)
	if err != nil || !bytes.Equal(stored, cp.Root) {
		return 0, false
	}
	seq, found, err := chain.FirstLeafMismatch(ctx, cp.Size)
	if err != nil || !found {
		return 0, false
	}
	return seq, true
}

// CheckStoredTree compares the stored tree's root at cp.Size with the
// checkpoint. A chain that extends cp but fails this check is intact, but
// proofs read from its stored tree will not verify: the merkle_node table
// was edited or damaged.
func CheckStoredTree(ctx context.Context, chain *bijotel.Chain, cp *Checkpoint) error {
	stored, err := chain.TreeRoot(ctx, cp.Size)
	if err != nil {
		return fmt.Errorf("stored merkle tree: %w", err)
	}
	if !bytes.Equal(stored, cp.Root) {
		return fmt.Errorf("stored merkle tree has another root at size %d than the checkpoint: the merkle_node table was edited or damaged", cp.Size)
	}
	return nil
}
