package server

import (
	"context"
	"sort"
	"sync"

	bijotel "github.com/bijotel/bijotel-go"
)

// Instrumentation kinds reported by /api/layers.
var knownInstrumentations = map[string]bool{
	"middleware":  true,
	"http_client": true,
	"interceptor": true,
	"wrap":        true,
}

// layers keeps per-provider totals of the chain up to date, summing only the
// entries appended since the last request.
type layers struct {
	chain *bijotel.Chain

	mu      sync.Mutex
	lastSeq int64
	totals  map[[2]string]*bijotel.ProviderUsage
}

func newLayers(c *bijotel.Chain) *layers {
	return &layers{chain: c, totals: map[[2]string]*bijotel.ProviderUsage{}}
}

// providerLayer is one provider in the /api/layers reply.
type providerLayer struct {
	bijotel.ProviderUsage
	// Kind is middleware, http_client, interceptor or wrap for bijotel's own
	// instrumentations, "automatic" for spans an SDK or another OpenTelemetry
	// instrumentation emitted (Instrumentation then holds its scope name),
	// or "unknown" when the sealed body names no scope.
	Kind string `json:"kind"`
}

// providers returns the totals by provider and instrumentation.
func (l *layers) providers(ctx context.Context) ([]providerLayer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := l.chain.Bounds(ctx)
	if err != nil {
		return nil, err
	}
	if b.Last < l.lastSeq {
		// The chain was replaced or cut: start over.
		l.lastSeq, l.totals = 0, map[[2]string]*bijotel.ProviderUsage{}
	}
	if b.Last > l.lastSeq {
		usage, err := l.chain.ProviderUsage(ctx, l.lastSeq+1, b.Last)
		if err != nil {
			return nil, err
		}
		for _, u := range usage {
			k := [2]string{u.Provider, u.Instrumentation}
			t, ok := l.totals[k]
			if !ok {
				t = &bijotel.ProviderUsage{Provider: u.Provider, Instrumentation: u.Instrumentation}
				l.totals[k] = t
			}
			t.Spans += u.Spans
			t.InputTokens += u.InputTokens
			t.OutputTokens += u.OutputTokens
			t.LastSeenNS = max(t.LastSeenNS, u.LastSeenNS)
		}
		l.lastSeq = b.Last
	}

	out := make([]providerLayer, 0, len(l.totals))
	for _, t := range l.totals {
		p := providerLayer{ProviderUsage: *t, Kind: "automatic"}
		switch {
		case knownInstrumentations[t.Instrumentation]:
			p.Kind = t.Instrumentation
		case t.Instrumentation == "":
			p.Kind = "unknown"
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].Instrumentation < out[j].Instrumentation
	})
	return out, nil
}
