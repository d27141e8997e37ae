package genai

import (
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// ContentMode selects what spans record about prompts and completions.
type ContentMode int

const (
	// CaptureContent records messages as they are, up to the size cap.
	CaptureContent ContentMode = iota
	// HashContent records the SHA-256 of each part's content instead of it.
	HashContent
	// OmitContent records no messages.
	OmitContent
)

// String returns the mode's name as recorded in bijotel.content.mode.
func (m ContentMode) String() string {
	switch m {
	case CaptureContent:
		return "capture"
	case HashContent:
		return "hash"
	case OmitContent:
		return "omit"
	}
	return fmt.Sprintf("ContentMode(%d)", int(m))
}

// ParseContentMode parses "capture", "hash" or "omit".
func ParseContentMode(s string) (ContentMode, error) {
	switch s {
	case "capture":
		return CaptureContent, nil
	case "hash":
		return HashContent, nil
	case "omit":
		return OmitContent, nil
	}
	return 0, fmt.Errorf("genai: invalid content mode %q: use capture, hash or omit", s)
}

// DefaultMaxContentBytes is the default size cap of one text part, in bytes.
const DefaultMaxContentBytes = 64 << 10

// Config is the resolved configuration shared by the instrumentations. The
// zero value is not usable; build one with NewConfig. A Config is immutable
// and safe for concurrent use.
type Config struct {
	mode            ContentMode
	maxContentBytes int
	tracerProvider  trace.TracerProvider
	providerName    string
}

// Option configures an instrumentation.
type Option interface {
	apply(*Config)
}

type optionFunc func(*Config)

func (f optionFunc) apply(c *Config) { f(c) }

// WithContentMode sets the content policy. The default is CaptureContent.
func WithContentMode(m ContentMode) Option {
	return optionFunc(func(c *Config) { c.mode = m })
}

// WithMaxContentBytes caps the size of each captured text part, in bytes.
// Zero or less removes the cap.
func WithMaxContentBytes(n int) Option {
	return optionFunc(func(c *Config) { c.maxContentBytes = n })
}

// WithTracerProvider sets the TracerProvider for the call spans. The default
// is the global one at the time each call starts.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *Config) { c.tracerProvider = tp })
}

// WithProviderName overrides gen_ai.provider.name, which instrumentations
// otherwise derive from the provider or its base URL.
func WithProviderName(name string) Option {
	return optionFunc(func(c *Config) { c.providerName = name })
}

// NewConfig resolves opts. It returns an error for a content mode outside
// the three defined ones.
func NewConfig(opts ...Option) (*Config, error) {
	c := defaultConfig()
	for _, o := range opts {
		o.apply(c)
	}
	if c.mode < CaptureContent || c.mode > OmitContent {
		return nil, fmt.Errorf("genai: invalid content mode %d: use CaptureContent, HashContent or OmitContent", int(c.mode))
	}
	return c, nil
}

// ContentMode returns the content policy.
func (c *Config) ContentMode() ContentMode { return c.mode }

// ProviderName returns the overriding provider name, or fallback when none
// was set.
func (c *Config) ProviderName(fallback string) string {
	if c.providerName != "" {
		return c.providerName
	}
	return fallback
}

func (c *Config) tracer() trace.Tracer {
	tp := c.tracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version))
}

// ScopeName is the instrumentation scope of the call spans.
const ScopeName = "github.com/bijotel/bijotel-go/genai"

// Version is the instrumentation scope version of the call spans.
const Version = "0.1.0"
