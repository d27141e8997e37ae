package tlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/internal/atomicfile"
	"golang.org/x/mod/sumdb/note"
)

// Defaults of a Checkpointer.
const (
	// DefaultEvery is how many new entries trigger a checkpoint.
	DefaultEvery = 1000
	// DefaultInterval is the longest time a new entry waits for a
	// checkpoint.
	DefaultInterval = time.Minute
	// DefaultPollInterval is how often Run looks at the chain's size.
	DefaultPollInterval = time.Second
)

// File names in a checkpoint directory.
const (
	// LatestCheckpointFile holds the newest checkpoint.
	LatestCheckpointFile = "checkpoint"
	// checkpointFilePrefix, followed by the tree size, names each
	// checkpoint kept.
	checkpointFilePrefix = "checkpoint-"
)

// ErrCheckpointDir is wrapped by errors about an unusable checkpoint
// directory.
var ErrCheckpointDir = errors.New("invalid checkpoint directory")

// Checkpointer signs checkpoints of a chain as it grows, every so many
// entries or after so much time, and keeps them as files in a directory
// outside the database's directory. Its methods are safe for concurrent use.
type Checkpointer struct {
	chain  *bijotel.Chain
	signer note.Signer
	dir    string
	cfg    checkpointerConfig

	signMu sync.Mutex // one signature at a time

	mu     sync.Mutex
	latest *Checkpoint
	signed time.Time // when latest was signed by this Checkpointer
}

type checkpointerConfig struct {
	origin   string
	every    uint64
	interval time.Duration
	poll     time.Duration
	logger   *slog.Logger
}

// CheckpointerOption configures NewCheckpointer.
type CheckpointerOption func(*checkpointerConfig)

// WithOrigin sets the origin line of the checkpoints; the default is the
// signer's key name.
func WithOrigin(origin string) CheckpointerOption {
	return func(c *checkpointerConfig) { c.origin = origin }
}

// WithEvery sets how many new entries trigger a checkpoint (DefaultEvery).
func WithEvery(n uint64) CheckpointerOption {
	return func(c *checkpointerConfig) { c.every = n }
}

// WithInterval sets the longest time a new entry waits for a checkpoint
// (DefaultInterval).
func WithInterval(d time.Duration) CheckpointerOption {
	return func(c *checkpointerConfig) { c.interval = d }
}

// WithPollInterval sets how often Run reads the chain's size
// (DefaultPollInterval).
func WithPollInterval(d time.Duration) CheckpointerOption {
	return func(c *checkpointerConfig) { c.poll = d }
}

// WithLogger sets the logger for checkpoints signed and failures caught in
// Run and in the HTTP handler. The default discards them.
func WithLogger(l *slog.Logger) CheckpointerOption {
	return func(c *checkpointerConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// NewCheckpointer returns a Checkpointer that signs checkpoints of chain
// with signer and writes them to dir, creating dir with mode 0700 when it
// does not exist. dir must be outside the directory that holds the
// database, so that whoever replaces the database with an older or edited
// copy does not also replace the checkpoints that expose it. chain must be
// open for writing or with bijotel.OpenForTree. The newest checkpoint
// already in dir, if any, is loaded without checking its signature.
func NewCheckpointer(chain *bijotel.Chain, signer note.Signer, dir string, opts ...CheckpointerOption) (*Checkpointer, error) {
	cfg := checkpointerConfig{every: DefaultEvery, interval: DefaultInterval, poll: DefaultPollInterval, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.every == 0:
		return nil, errors.New("checkpointer: WithEvery needs at least 1 entry")
	case cfg.interval <= 0:
		return nil, fmt.Errorf("checkpointer: invalid interval %v: need a positive duration", cfg.interval)
	case cfg.poll <= 0:
		return nil, fmt.Errorf("checkpointer: invalid poll interval %v: need a positive duration", cfg.poll)
	}

	abs, err := CheckDirOutside(dir, chain.Path())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpointDir, err)
	}
	c := &Checkpointer{chain: chain, signer: signer, dir: abs, cfg: cfg}
	data, err := os.ReadFile(filepath.Join(abs, LatestCheckpointFile))
	switch {
	case err == nil:
		cp, err := ParseUnverified(data)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(abs, LatestCheckpointFile), err)
		}
		c.latest = cp
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w: %w", ErrCheckpointDir, err)
	}
	return c, nil
}

// CheckDirOutside returns dir as an absolute path with symbolic links
// resolved, or an error wrapping ErrCheckpointDir when dir is the directory
// of the database dbPath or lies inside it.
func CheckDirOutside(dir, dbPath string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("%w: the directory is empty", ErrCheckpointDir)
	}
	dbDir, err := resolve(filepath.Dir(dbPath))
	if err != nil {
		return "", fmt.Errorf("%w: database directory: %w", ErrCheckpointDir, err)
	}
	abs, err := resolve(dir)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCheckpointDir, err)
	}
	rel, err := filepath.Rel(dbDir, abs)
	if err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))) {
		return "", fmt.Errorf("%w: %s is inside the database's directory %s; keep checkpoints where whoever can replace the database cannot, such as another volume or machine", ErrCheckpointDir, dir, dbDir)
	}
	return abs, nil
}

// resolve returns the absolute form of path with symbolic links resolved in
// the longest part of it that exists.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	existing, rest := abs, ""
	for {
		r, err := filepath.EvalSymlinks(existing)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
}

// Dir returns the absolute path of the checkpoint directory.
func (c *Checkpointer) Dir() string { return c.dir }

// Latest returns the newest checkpoint, or nil before the first.
func (c *Checkpointer) Latest() *Checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest
}

// Checkpoint signs a checkpoint of the whole chain now, writes it to the
// directory and returns it. When the chain has not grown since the latest
// checkpoint, it returns that one without signing again.
func (c *Checkpointer) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	c.signMu.Lock()
	defer c.signMu.Unlock()

	cp, err := Sign(ctx, c.chain, c.signer, c.cfg.origin)
	if err != nil {
		return nil, err
	}
	if latest := c.Latest(); latest != nil && latest.Size == cp.Size && latest.Origin == cp.Origin && string(latest.Root) == string(cp.Root) {
		return latest, nil
	}
	if err := atomicfile.Write(filepath.Join(c.dir, checkpointFilePrefix+strconv.FormatUint(cp.Size, 10)), cp.Signed, 0o644); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(c.dir, LatestCheckpointFile), cp.Signed, 0o644); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.latest, c.signed = cp, time.Now()
	c.mu.Unlock()
	c.cfg.logger.InfoContext(ctx, "checkpoint signed", slog.String("origin", cp.Origin), slog.Uint64("size", cp.Size), slog.String("dir", c.dir))
	return cp, nil
}

// Load returns the checkpoint of the given size kept in the directory, or
// an error wrapping os.ErrNotExist when there is none. Its signature is not
// checked.
func (c *Checkpointer) Load(size uint64) (*Checkpoint, error) {
	data, err := os.ReadFile(filepath.Join(c.dir, checkpointFilePrefix+strconv.FormatUint(size, 10)))
	if err != nil {
		return nil, err
	}
	return ParseUnverified(data)
}

// Run signs a checkpoint whenever the chain has grown by the configured
// number of entries, or has grown at all and the interval has passed since
// the latest checkpoint. It reads the chain's size every poll interval,
// logs the failures it catches and goes on, and returns nil when ctx is
// done.
func (c *Checkpointer) Run(ctx context.Context) error {
	c.cfg.logger.InfoContext(ctx, "checkpointer started", slog.String("dir", c.dir),
		slog.Uint64("every_entries", c.cfg.every), slog.Duration("interval", c.cfg.interval))
	defer c.cfg.logger.InfoContext(ctx, "checkpointer stopped", slog.String("dir", c.dir))
	t := time.NewTicker(c.cfg.poll)
	defer t.Stop()
	for {
		if err := c.maybeCheckpoint(ctx); err != nil && ctx.Err() == nil {
			c.cfg.logger.ErrorContext(ctx, "checkpoint failed", slog.String("dir", c.dir), slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *Checkpointer) maybeCheckpoint(ctx context.Context) error {
	b, err := c.chain.Bounds(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	latest, signed := c.latest, c.signed
	c.mu.Unlock()
	var have uint64
	if latest != nil {
		have = latest.Size
	}
	size := uint64(max(b.Last, 0))
	if size <= have && latest != nil {
		return nil
	}
	if latest == nil || size-have >= c.cfg.every || time.Since(signed) >= c.cfg.interval {
		_, err := c.Checkpoint(ctx)
		return err
	}
	return nil
}
