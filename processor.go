package bijotel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Processor is an OpenTelemetry SDK SpanProcessor that seals spans into a
// Chain. Register it with sdktrace.WithSpanProcessor:
//
//	p, err := bijotel.NewProcessor("chain.db", secret)
//	if err != nil {
//		return err
//	}
//	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
//	defer tp.Shutdown(ctx)
//
// OnEnd only queues the span, which the SDK hands over as an immutable
// snapshot. The writer goroutines of a Sealer convert the queued spans,
// encode them and commit them in batches. The Processor seals every span that
// reaches OnEnd and passes the filter. The TracerProvider's sampler must
// therefore record the spans to be audited. The default sampler records all
// spans of a trace whose root is sampled.
//
// A span dropped because the queue is full, its batch failed to commit or it
// could not be encoded is counted, and the count is sealed in a loss entry
// (LossEntryName) that Verify reports. See Sealer for the retry and loss
// rules. Two losses leave no loss entry. Spans still queued when the context
// of Shutdown ends are reported to otel.Handle and the logger only. Spans
// still in memory when the process crashes are lost without a record, and
// the batch timeout and ForceFlush bound how many there can be.
//
// All methods are safe for concurrent use.
type Processor struct {
	sealer *Sealer
	// chain is the chain that Shutdown closes, or nil when the caller owns
	// it.
	chain *Chain
	// filterKeys makes OnEnd apply DefaultFilter to the span's attributes.
	filterKeys bool

	shutdownOnce sync.Once
	shutdown     atomic.Bool
}

var _ sdktrace.SpanProcessor = (*Processor)(nil)

// NewProcessor opens or creates the chain at path with secret (see Open) and
// returns a Processor that owns it: Shutdown closes it. Invalid options are
// reported before the file is opened.
func NewProcessor(path string, secret []byte, opts ...ProcessorOption) (*Processor, error) {
	cfg, err := newProcessorConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("new processor for %s: %w", path, err)
	}
	var openOpts []Option
	if cfg.sealer.logger != nil {
		openOpts = append(openOpts, WithLogger(cfg.sealer.logger))
	}
	c, err := Open(path, secret, openOpts...)
	if err != nil {
		return nil, err
	}
	p, err := newProcessor(c, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	p.chain = c
	return p, nil
}

// NewChainProcessor returns a Processor that seals spans into c. The caller
// keeps owning c and must close it only after Shutdown has returned.
func NewChainProcessor(c *Chain, opts ...ProcessorOption) (*Processor, error) {
	cfg, err := newProcessorConfig(opts)
	if err != nil {
		path := "<nil chain>"
		if c != nil {
			path = c.path
		}
		return nil, fmt.Errorf("new processor for %s: %w", path, err)
	}
	return newProcessor(c, cfg)
}

func newProcessorConfig(opts []ProcessorOption) (processorConfig, error) {
	cfg := processorConfig{sealer: newSealerConfig()}
	for _, o := range opts {
		o.applyProcessor(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return processorConfig{}, err
	}
	return cfg, nil
}

func newProcessor(c *Chain, cfg processorConfig) (*Processor, error) {
	filterKeys := !cfg.filterSet
	if cfg.filterSet {
		cfg.sealer.spanFilter = cfg.filter
	}
	s, err := newSealer(c, cfg.sealer)
	if err != nil {
		return nil, err
	}
	return &Processor{sealer: s, filterKeys: filterKeys}, nil
}

// OnStart does nothing: spans are sealed when they end.
func (p *Processor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues s for sealing and returns without I/O. When the queue is full
// it applies the full-queue policy: under FullQueueBlock, the default, it
// waits for room up to the block timeout, then drops s and counts it. After
// Shutdown it ignores s and counts it in Stats().Ignored.
func (p *Processor) OnEnd(s sdktrace.ReadOnlySpan) {
	if p.filterKeys && !hasSealedKey(s) {
		p.sealer.filtered.Add(1)
		return
	}
	p.sealer.enqueueSpan(s)
}

// hasSealedKey applies DefaultFilter to the SDK span without converting it.
func hasSealedKey(s sdktrace.ReadOnlySpan) bool {
	for _, kv := range s.Attributes() {
		if IsSealedKey(string(kv.Key)) {
			return true
		}
	}
	return false
}

// ForceFlush returns once every span that ended before the call is committed
// and durable, and every span lost before the call is counted in a committed
// loss entry, or once ctx ends with ctx.Err(). It returns an error when some
// of those spans, or the loss entry, failed to commit within the retry
// budget. After Shutdown it returns nil at once.
func (p *Processor) ForceFlush(ctx context.Context) error {
	if p.shutdown.Load() {
		return nil
	}
	err := p.sealer.Flush(ctx)
	if errors.Is(err, ErrSealerClosed) && p.shutdown.Load() {
		return nil
	}
	return err
}

// Shutdown stops accepting spans, commits the queued ones and the count of
// lost spans, and closes the chain if the processor opened it. If ctx ends
// first, it drops what is left and reports it to otel.Handle, as
// Sealer.Close describes. Later calls wait for the first to finish and
// return nil.
func (p *Processor) Shutdown(ctx context.Context) error {
	var err error
	p.shutdownOnce.Do(func() {
		p.shutdown.Store(true)
		err = p.sealer.Close(ctx)
		if p.chain != nil {
			err = errors.Join(err, p.chain.Close())
		}
	})
	return err
}

// Stats returns the counters of the processor's Sealer, which also count
// the spans rejected by the filter and those ignored after Shutdown.
func (p *Processor) Stats() SealerStats {
	return p.sealer.Stats()
}
