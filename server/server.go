package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"

	bijotel "github.com/bijotel/bijotel-go"
)

// Server is a running bijotel serve. Create it with New, bind its listeners
// with Listen, and run it with Serve.
type Server struct {
	cfg    Config
	logger *slog.Logger
	sealer *bijotel.Sealer
	stats  *receiverStats
	layers *layers

	grpcServer *grpc.Server
	httpServer *http.Server
	apiServer  *http.Server

	grpcListener, httpListener, apiListener net.Listener

	startedAt time.Time
	mu        sync.Mutex
	serving   map[string]string // listener name → bound address
}

// New validates cfg and starts the group-commit writer. It does not listen
// yet.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sealer, err := bijotel.NewSealer(cfg.Chain, cfg.SealerOptions...)
	if err != nil {
		return nil, fmt.Errorf("server: start the sealer: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		logger:    cfg.Logger,
		sealer:    sealer,
		stats:     newReceiverStats(),
		layers:    newLayers(cfg.Chain),
		startedAt: time.Now(),
		serving:   map[string]string{},
	}

	auth := s.grpcAuth()
	s.grpcServer = grpc.NewServer(
		grpc.MaxRecvMsgSize(int(cfg.MaxRequestBytes)),
		grpc.UnaryInterceptor(auth),
	)
	ptraceotlp.RegisterGRPCServer(s.grpcServer, &grpcReceiver{s: s})

	s.httpServer = &http.Server{Handler: s.withAuth(s.otlpHTTPHandler()), ReadHeaderTimeout: 10 * time.Second}
	s.apiServer = &http.Server{Handler: s.withCORS(s.withAuth(s.apiHandler())), ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// Listen binds the enabled listeners. On error it closes those it bound.
func (s *Server) Listen() error {
	bind := func(name, addr string) (net.Listener, error) {
		if addr == "-" {
			return nil, nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("server: listen for %s on %s: %w", name, addr, err)
		}
		s.mu.Lock()
		s.serving[name] = ln.Addr().String()
		s.mu.Unlock()
		return ln, nil
	}
	var err error
	if s.grpcListener, err = bind("otlp_grpc", s.cfg.GRPCAddr); err != nil {
		return s.closeListeners(err)
	}
	if s.httpListener, err = bind("otlp_http", s.cfg.HTTPAddr); err != nil {
		return s.closeListeners(err)
	}
	if s.apiListener, err = bind("rest_api", s.cfg.APIAddr); err != nil {
		return s.closeListeners(err)
	}
	return nil
}

func (s *Server) closeListeners(err error) error {
	for _, ln := range []net.Listener{s.grpcListener, s.httpListener, s.apiListener} {
		if ln != nil {
			ln.Close()
		}
	}
	return err
}

// Addr returns the bound address of a listener: "otlp_grpc", "otlp_http"
// or "rest_api", or "" when it is disabled or not bound.
func (s *Server) Addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving[name]
}

// Serve serves until ctx ends, then shuts down in order: it stops accepting
// requests, lets the ones in flight finish, commits every span already
// accepted, and returns. It returns the first listener error, or the error
// of the final commit.
func (s *Server) Serve(ctx context.Context) error {
	errs := make(chan error, 3)
	run := func(name string, serve func() error) {
		err := serve()
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			errs <- fmt.Errorf("server: %s: %w", name, err)
			return
		}
		errs <- nil
	}
	started := 0
	if s.grpcListener != nil {
		started++
		go run("otlp grpc", func() error { return s.grpcServer.Serve(s.grpcListener) })
	}
	if s.httpListener != nil {
		started++
		go run("otlp http", func() error { return s.httpServer.Serve(s.httpListener) })
	}
	if s.apiListener != nil {
		started++
		go run("rest api", func() error { return s.apiServer.Serve(s.apiListener) })
	}
	s.logger.InfoContext(ctx, "serving",
		slog.String("otlp_grpc", s.Addr("otlp_grpc")),
		slog.String("otlp_http", s.Addr("otlp_http")),
		slog.String("rest_api", s.Addr("rest_api")),
		slog.String("db", s.cfg.Chain.Path()))

	checkpointerDone := make(chan error, 1)
	checkpointCtx, stopCheckpoints := context.WithCancel(context.Background())
	defer stopCheckpoints()
	if cps := s.cfg.Checkpointer; cps != nil {
		go func() { checkpointerDone <- cps.Run(checkpointCtx) }()
	} else {
		checkpointerDone <- nil
	}

	var firstErr error
	select {
	case <-ctx.Done():
	case firstErr = <-errs:
		started--
	}

	// Stop accepting; requests in flight finish and get their replies.
	s.logger.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		s.grpcServer.GracefulStop()
		close(stopped)
	}()
	shutdownErr := errors.Join(s.httpServer.Shutdown(shutdownCtx), s.apiServer.Shutdown(shutdownCtx))
	select {
	case <-stopped:
	case <-shutdownCtx.Done():
		s.grpcServer.Stop()
	}
	for ; started > 0; started-- {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}

	// Commit everything accepted, and seal any loss; then sign a last
	// checkpoint over it.
	closeErr := s.sealer.Close(shutdownCtx)
	if cps := s.cfg.Checkpointer; cps != nil {
		if _, err := cps.Checkpoint(shutdownCtx); err != nil {
			s.logger.Warn("final checkpoint failed", slog.Any("error", err))
		}
	}
	stopCheckpoints()
	if err := <-checkpointerDone; err != nil && !errors.Is(err, context.Canceled) {
		s.logger.Warn("checkpointer stopped with an error", slog.Any("error", err))
	}
	s.logger.Info("stopped", slog.Int64("spans_sealed", s.stats.sealed.Load()))
	return errors.Join(firstErr, shutdownErr, closeErr)
}
