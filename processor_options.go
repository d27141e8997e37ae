package bijotel

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of the Sealer and Processor options.
const (
	// DefaultQueueSize is how many spans and records wait to be written
	// before OnEnd applies the full-queue policy. cmd/benchproc measured
	// 1.5 to 1.9 KB of live heap per held span with 1 KB of attributes, so a
	// full default queue and the writer's two batches hold about 5 MB.
	DefaultQueueSize = 2048
	// DefaultBatchSize is the largest number of records committed in one
	// transaction, unless one Seal call hands over more.
	DefaultBatchSize = 512
	// DefaultBatchTimeout bounds how long a span waits in memory, where a
	// crash loses it, before a partial batch is committed. The cost is at most
	// one commit, with its fsync, per interval while spans trickle in.
	DefaultBatchTimeout = 200 * time.Millisecond
	// DefaultBlockTimeout is how long OnEnd waits for room in a full queue
	// before it drops the span.
	DefaultBlockTimeout = 5 * time.Second
	// DefaultRetryInitialInterval is the first wait after a failed commit.
	DefaultRetryInitialInterval = 100 * time.Millisecond
	// DefaultRetryMaxInterval caps the doubling wait between retries.
	DefaultRetryMaxInterval = 5 * time.Second
	// DefaultRetryMaxElapsedTime is how long one batch is retried before its
	// spans are dropped and counted. It covers several waits of
	// BusyTimeoutMillis for a lock held by another writer.
	DefaultRetryMaxElapsedTime = 30 * time.Second
)

// FullQueuePolicy is the action OnEnd takes when the queue is full.
type FullQueuePolicy int

const (
	// FullQueueBlock makes OnEnd wait for room for up to the block timeout
	// (see WithBlockTimeout) and then drop the span. Once a wait has timed
	// out, later spans are dropped at once until a commit succeeds again.
	// While the writer stays stalled, each goroutine that ends spans
	// therefore waits at most one block timeout.
	FullQueueBlock FullQueuePolicy = iota
	// FullQueueDrop makes OnEnd drop the span at once.
	FullQueueDrop
)

func (p FullQueuePolicy) String() string {
	switch p {
	case FullQueueBlock:
		return "FullQueueBlock"
	case FullQueueDrop:
		return "FullQueueDrop"
	}
	return fmt.Sprintf("FullQueuePolicy(%d)", int(p))
}

// RetryPolicy sets how a failed commit is retried. The wait starts at
// InitialInterval and doubles up to MaxInterval, with random jitter of up
// to half the wait. No attempt starts after MaxElapsedTime from the first
// one, and an attempt still running then is interrupted. A MaxElapsedTime of
// zero makes one attempt, which is never interrupted.
type RetryPolicy struct {
	InitialInterval time.Duration
	MaxInterval     time.Duration
	MaxElapsedTime  time.Duration
}

// DefaultRetryPolicy returns the policy built from the DefaultRetry*
// constants.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		InitialInterval: DefaultRetryInitialInterval,
		MaxInterval:     DefaultRetryMaxInterval,
		MaxElapsedTime:  DefaultRetryMaxElapsedTime,
	}
}

// ProcessorOption configures NewProcessor and NewChainProcessor.
type ProcessorOption interface {
	applyProcessor(*processorConfig)
}

// SealerOption configures NewSealer. Every SealerOption is also a
// ProcessorOption, which configures the processor's Sealer.
type SealerOption interface {
	ProcessorOption
	applySealer(*sealerConfig)
}

type sealerConfig struct {
	queueSize    int
	batchSize    int
	batchTimeout time.Duration
	fullQueue    FullQueuePolicy
	blockTimeout time.Duration
	retry        RetryPolicy
	logger       *slog.Logger
	// spanFilter decides in the writer which SDK spans are sealed. It is nil
	// when the processor applies DefaultFilter in OnEnd instead.
	spanFilter Filter
}

type processorConfig struct {
	sealer sealerConfig
	filter Filter
	// filterSet is true when WithFilter was given, even with a nil filter.
	filterSet bool
}

func newSealerConfig() sealerConfig {
	return sealerConfig{
		queueSize:    DefaultQueueSize,
		batchSize:    DefaultBatchSize,
		batchTimeout: DefaultBatchTimeout,
		fullQueue:    FullQueueBlock,
		blockTimeout: DefaultBlockTimeout,
		retry:        DefaultRetryPolicy(),
	}
}

type sealerOptionFunc func(*sealerConfig)

func (f sealerOptionFunc) applySealer(c *sealerConfig)       { f(c) }
func (f sealerOptionFunc) applyProcessor(c *processorConfig) { f(&c.sealer) }

type processorOptionFunc func(*processorConfig)

func (f processorOptionFunc) applyProcessor(c *processorConfig) { f(c) }

// WithQueueSize sets how many spans and records may wait to be written, the
// bound on the memory the queue uses. The default is DefaultQueueSize.
func WithQueueSize(n int) SealerOption {
	return sealerOptionFunc(func(c *sealerConfig) { c.queueSize = n })
}

// WithBatchSize sets the largest number of records committed in one
// transaction. It must not exceed the queue size. The default is
// DefaultBatchSize.
func WithBatchSize(n int) SealerOption {
	return sealerOptionFunc(func(c *sealerConfig) { c.batchSize = n })
}

// WithBatchTimeout sets how long the writer waits for a batch to fill before
// it commits a partial one. ForceFlush, Flush and Seal do not wait for it.
// The default is DefaultBatchTimeout.
func WithBatchTimeout(d time.Duration) SealerOption {
	return sealerOptionFunc(func(c *sealerConfig) { c.batchTimeout = d })
}

// WithFullQueuePolicy sets what OnEnd does when the queue is full. The
// default is FullQueueBlock. Seal always waits for room, until its context
// ends.
func WithFullQueuePolicy(p FullQueuePolicy) SealerOption {
	return sealerOptionFunc(func(c *sealerConfig) { c.fullQueue = p })
}

// WithBlockTimeout sets how long OnEnd waits for room under FullQueueBlock.
// The default is DefaultBlockTimeout.
func WithBlockTimeout(d time.Duration) SealerOption {
	return sealerOptionFunc(func(c *sealerConfig) { c.blockTimeout = d })
}

// WithRetry sets how failed commits are retried. The default is
// DefaultRetryPolicy().
func WithRetry(p RetryPolicy) SealerOption {
	return sealerOptionFunc(func(c *sealerConfig) { c.retry = p })
}

// WithSealerLogger sets the logger for retries and lost spans. Log records
// carry counts, seqs and errors, never span content. The default is the
// logger of the chain (see WithLogger), which discards records unless Open
// was given one. NewProcessor passes this logger to Open as well.
//
// NOTE: the name differs from WithLogger because WithLogger already returns
// the Option type of Open.
func WithSealerLogger(l *slog.Logger) SealerOption {
	return sealerOptionFunc(func(c *sealerConfig) { c.logger = l })
}

// WithFilter sets which spans the processor seals. The default is
// DefaultFilter, which the processor applies to the span's attributes in
// OnEnd, so rejected spans never take room in the queue. Any other filter
// runs in the writer goroutine after conversion, so it may be slow but must
// be safe to call from another goroutine than the one that ended the span.
func WithFilter(f Filter) ProcessorOption {
	return processorOptionFunc(func(c *processorConfig) {
		c.filter = f
		c.filterSet = true
	})
}

// validate returns an error for each invalid setting, naming the value and
// the fix.
func (c *sealerConfig) validate() error {
	var errs []error
	if c.queueSize < 1 {
		errs = append(errs, fmt.Errorf("invalid queue size %d: need 1 or more (default %d)", c.queueSize, DefaultQueueSize))
	}
	if c.batchSize < 1 {
		errs = append(errs, fmt.Errorf("invalid batch size %d: need 1 or more (default %d)", c.batchSize, DefaultBatchSize))
	} else if c.queueSize >= 1 && c.batchSize > c.queueSize {
		errs = append(errs, fmt.Errorf("batch size %d is larger than queue size %d: raise WithQueueSize or lower WithBatchSize", c.batchSize, c.queueSize))
	}
	if c.batchTimeout <= 0 {
		errs = append(errs, fmt.Errorf("invalid batch timeout %v: need a positive duration (default %v)", c.batchTimeout, DefaultBatchTimeout))
	}
	if c.fullQueue != FullQueueBlock && c.fullQueue != FullQueueDrop {
		errs = append(errs, fmt.Errorf("invalid full-queue policy %v: pass FullQueueBlock or FullQueueDrop", c.fullQueue))
	}
	if c.fullQueue == FullQueueBlock && c.blockTimeout <= 0 {
		errs = append(errs, fmt.Errorf("invalid block timeout %v: need a positive duration (default %v), or pass FullQueueDrop to never wait", c.blockTimeout, DefaultBlockTimeout))
	}
	errs = append(errs, c.retry.validate())
	return errors.Join(errs...)
}

func (p RetryPolicy) validate() error {
	switch {
	case p.MaxElapsedTime < 0:
		return fmt.Errorf("invalid retry MaxElapsedTime %v: need 0 (no retry) or more (default %v)", p.MaxElapsedTime, DefaultRetryMaxElapsedTime)
	case p.MaxElapsedTime == 0:
		return nil
	case p.InitialInterval <= 0:
		return fmt.Errorf("invalid retry InitialInterval %v: need a positive duration when MaxElapsedTime is set (default %v)", p.InitialInterval, DefaultRetryInitialInterval)
	case p.MaxInterval < p.InitialInterval:
		return fmt.Errorf("invalid retry MaxInterval %v: need at least InitialInterval %v (default %v)", p.MaxInterval, p.InitialInterval, DefaultRetryMaxInterval)
	}
	return nil
}

func (c *processorConfig) validate() error {
	err := c.sealer.validate()
	if c.filterSet && c.filter == nil {
		err = errors.Join(err, errors.New("filter is nil: pass bijotel.DefaultFilter, bijotel.AllSpans or a function"))
	}
	return err
}
