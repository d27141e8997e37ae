// Package fakeprovider serves fake LLM provider APIs on loopback for tests,
// examples and the demo. Each constructor starts a server that speaks one
// provider's wire format, JSON and streaming, with payloads shaped after the
// provider's public API reference. The servers never call a real provider.
//
// Behaviour is chosen by the request, so one server covers every scenario:
// see the Model* constants.
package fakeprovider

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// Models that select a scenario on every fake provider. Any other model gets
// a normal reply: plain or streamed as the request selects, with a tool call
// when the request offers tools.
const (
	// ModelRateLimited gets HTTP 429 with a Retry-After header.
	ModelRateLimited = "fake-rate-limited"
	// ModelServerError gets HTTP 500 (or the provider's 5xx equivalent).
	ModelServerError = "fake-server-error"
)

// Request is one request a fake server received.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// Server is a running fake provider. Its methods are safe for concurrent
// use.
type Server struct {
	// URL is the base URL, such as http://127.0.0.1:38211.
	URL string

	srv      *http.Server
	listener net.Listener

	mu       sync.Mutex
	requests []Request
}

// start serves handler on a free loopback port.
func start(handler http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeprovider: listen on loopback: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), listener: ln}
	s.srv = &http.Server{Handler: s.record(handler)}
	go s.srv.Serve(ln)
	return s, nil
}

// record stores each request before the handler runs.
func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Close stops the server and closes its connections.
func (s *Server) Close() error {
	return s.srv.Close()
}

// sseWriter writes server-sent events, flushing after each one so that
// clients see them one at a time, as from a real provider.
type sseWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func newSSE(w http.ResponseWriter) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sseWriter{w: w, f: f}
}

// event writes one event; an empty name writes a data-only event.
func (s *sseWriter) event(name, data string) {
	if name != "" {
		fmt.Fprintf(s.w, "event: %s\n", name)
	}
	for _, line := range strings.Split(data, "\n") {
		fmt.Fprintf(s.w, "data: %s\n", line)
	}
	fmt.Fprint(s.w, "\n")
	if s.f != nil {
		s.f.Flush()
	}
}

// writeJSON writes a JSON reply with the given status.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
