package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/tlog"
)

// Default listen addresses: the OTLP ports registered with IANA and a REST
// port, all on loopback.
const (
	DefaultGRPCAddr = "127.0.0.1:4317"
	DefaultHTTPAddr = "127.0.0.1:4318"
	DefaultAPIAddr  = "127.0.0.1:8080"
)

// Default limits.
const (
	DefaultMaxRequestBytes    = 16 << 20
	DefaultMaxSpansPerRequest = 10_000
	DefaultMaxAttributeBytes  = 1 << 20
	DefaultAdmissionTimeout   = 2 * time.Second
	// RetryAfter is the delay that an overloaded receiver sends to exporters
	// as the time to wait before a retry.
	RetryAfter = time.Second
)

// Config configures a Server. Zero fields take the Default* values.
type Config struct {
	// Chain is the chain to seal into and report on. The Server does not
	// close it.
	Chain *bijotel.Chain
	// Secret verifies the chain for POST /api/chain/verify. It is never
	// served or logged.
	Secret []byte

	// Listen addresses. An empty address takes the default; "-" disables
	// that listener.
	GRPCAddr, HTTPAddr, APIAddr string

	// APIToken, when set, is required from every client as a bearer token.
	// Listening on a non-loopback address requires it.
	APIToken string
	// CORSOrigins lists the origins allowed to call the REST API from a
	// browser. Empty means no CORS headers at all.
	CORSOrigins []string

	MaxRequestBytes    int64
	MaxSpansPerRequest int
	// MaxAttributeBytes caps one attribute value's size; a span with a
	// larger value is rejected alone, with OTLP partial success.
	MaxAttributeBytes int
	// AdmissionTimeout is how long a request waits for room in the seal
	// queue before the receiver replies that it is overloaded.
	AdmissionTimeout time.Duration

	// Checkpointer, when set, signs checkpoints as the chain grows; the
	// server runs it and serves GET /api/checkpoint, /api/proof/{seq} and
	// /api/consistency from it.
	Checkpointer *tlog.Checkpointer

	// Filter selects the spans to seal; the default is
	// bijotel.DefaultFilter.
	Filter bijotel.Filter
	// SealerOptions configure the group-commit writer.
	SealerOptions []bijotel.SealerOption

	Logger *slog.Logger
	// Version is reported by GET /api/version.
	Version string
}

func (c *Config) setDefaults() {
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.APIAddr == "" {
		c.APIAddr = DefaultAPIAddr
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxSpansPerRequest <= 0 {
		c.MaxSpansPerRequest = DefaultMaxSpansPerRequest
	}
	if c.MaxAttributeBytes <= 0 {
		c.MaxAttributeBytes = DefaultMaxAttributeBytes
	}
	if c.AdmissionTimeout <= 0 {
		c.AdmissionTimeout = DefaultAdmissionTimeout
	}
	if c.Filter == nil {
		c.Filter = bijotel.DefaultFilter
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Version == "" {
		c.Version = "devel"
	}
}

func (c *Config) validate() error {
	if c.Chain == nil {
		return errors.New("server: no chain: set Config.Chain to an open chain")
	}
	for _, a := range []struct{ flag, addr string }{{"grpc", c.GRPCAddr}, {"http", c.HTTPAddr}, {"api", c.APIAddr}} {
		if a.addr == "-" {
			continue
		}
		loopback, err := isLoopback(a.addr)
		if err != nil {
			return fmt.Errorf("server: invalid %s address %q: %w", a.flag, a.addr, err)
		}
		if !loopback && c.APIToken == "" {
			return fmt.Errorf("server: refusing to listen on non-loopback %s address %q without an API token: set one with --api-token-file or BIJOTEL_API_TOKEN, or listen on 127.0.0.1", a.flag, a.addr)
		}
	}
	if c.APIToken != "" && len(c.APIToken) < 16 {
		return fmt.Errorf("server: API token is %d characters, need at least 16", len(c.APIToken))
	}
	return nil
}

// isLoopback reports whether a listen address binds only loopback
// interfaces. A host name other than localhost is not trusted to be one.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}
