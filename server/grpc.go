package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/bijotel/bijotel-go/otlp"
)

// grpcReceiver is the OTLP/gRPC trace service.
type grpcReceiver struct {
	ptraceotlp.UnimplementedGRPCServer
	s *Server
}

// Export seals the request's spans and replies once they are durable.
func (g *grpcReceiver) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	resp := ptraceotlp.NewExportResponse()
	spans, err := otlp.Spans(req.Traces())
	if err != nil {
		g.s.stats.badRequests.Add(1)
		return resp, status.Error(codes.InvalidArgument, err.Error())
	}
	acc, err := g.s.receive(ctx, spans)
	switch {
	case errors.Is(err, errTooManySpans):
		return resp, status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, errOverloaded):
		st := status.New(codes.ResourceExhausted, err.Error())
		if detailed, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(RetryAfter)}); derr == nil {
			st = detailed
		}
		return resp, st.Err()
	case err != nil:
		return resp, status.Error(codes.Internal, err.Error())
	}
	if acc.rejected > 0 {
		ps := resp.PartialSuccess()
		ps.SetRejectedSpans(int64(acc.rejected))
		ps.SetErrorMessage(acc.rejectMessage)
	}
	return resp, nil
}

// grpcAuth returns an interceptor that requires the API token, when one is
// set, in the authorization metadata.
func (s *Server) grpcAuth() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if s.cfg.APIToken == "" {
			return handler(ctx, req)
		}
		md, _ := metadata.FromIncomingContext(ctx)
		for _, v := range md.Get("authorization") {
			if tokenMatches(v, s.cfg.APIToken) {
				return handler(ctx, req)
			}
		}
		s.stats.unauthorized.Add(1)
		return nil, status.Error(codes.Unauthenticated, "missing or invalid bearer token in the authorization metadata")
	}
}

// tokenMatches compares "Bearer TOKEN" with the expected token in constant
// time.
func tokenMatches(header, token string) bool {
	const prefix = "bearer "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(header[len(prefix):]), []byte(token)) == 1
}
