package server

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/otlp"
)

const (
	contentTypeProto = "application/x-protobuf"
	contentTypeJSON  = "application/json"
)

// otlpHTTPHandler serves POST /v1/traces in protobuf and JSON, plain or
// gzip-compressed.
func (s *Server) otlpHTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/traces", s.handleTraces)
	return mux
}

func (s *Server) handleTraces(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed: send POST", http.StatusMethodNotAllowed)
		return
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mediaType != contentTypeProto && mediaType != contentTypeJSON) {
		s.stats.badRequests.Add(1)
		http.Error(w, fmt.Sprintf("unsupported Content-Type %q: send %s or %s", r.Header.Get("Content-Type"), contentTypeProto, contentTypeJSON), http.StatusUnsupportedMediaType)
		return
	}

	body, status, err := s.readBody(w, r)
	if err != nil {
		s.stats.badRequests.Add(1)
		writeStatus(w, mediaType, status, codeFor(status), err.Error())
		return
	}

	var spans []bijotel.Span
	if mediaType == contentTypeJSON {
		spans, err = otlp.DecodeJSON(body)
	} else {
		spans, err = otlp.DecodeProto(body)
	}
	if err != nil {
		s.stats.badRequests.Add(1)
		writeStatus(w, mediaType, http.StatusBadRequest, codes.InvalidArgument, err.Error())
		return
	}

	acc, err := s.receive(r.Context(), spans)
	switch {
	case errors.Is(err, errTooManySpans):
		writeStatus(w, mediaType, http.StatusBadRequest, codes.InvalidArgument, err.Error())
		return
	case errors.Is(err, errOverloaded):
		w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter.Seconds())))
		writeStatus(w, mediaType, http.StatusServiceUnavailable, codes.Unavailable, err.Error())
		return
	case err != nil:
		writeStatus(w, mediaType, http.StatusInternalServerError, codes.Internal, err.Error())
		return
	}

	resp := ptraceotlp.NewExportResponse()
	if acc.rejected > 0 {
		ps := resp.PartialSuccess()
		ps.SetRejectedSpans(int64(acc.rejected))
		ps.SetErrorMessage(acc.rejectMessage)
	}
	var out []byte
	if mediaType == contentTypeJSON {
		out, err = resp.MarshalJSON()
	} else {
		out, err = resp.MarshalProto()
	}
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// readBody reads the request body within the size limit, decompressing
// gzip. On error it returns the HTTP status of the reply.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	limit := s.cfg.MaxRequestBytes
	var src io.Reader = http.MaxBytesReader(w, r.Body, limit)
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("invalid gzip body: %v", err)
		}
		defer zr.Close()
		// Cap the decompressed size too, so a small bomb cannot expand
		// without bound.
		src = io.LimitReader(zr, limit+1)
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q: send gzip or no encoding", enc)
	}
	body, err := io.ReadAll(src)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body is larger than %d bytes: send smaller batches", limit)
	case err != nil:
		return nil, http.StatusBadRequest, fmt.Errorf("read request body: %v", err)
	case int64(len(body)) > limit:
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("decompressed body is larger than %d bytes: send smaller batches", limit)
	}
	return body, 0, nil
}

func codeFor(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	case http.StatusUnsupportedMediaType, http.StatusBadRequest:
		return codes.InvalidArgument
	}
	return codes.Unknown
}

// writeStatus writes an OTLP/HTTP error: a google.rpc.Status in the
// request's encoding.
func writeStatus(w http.ResponseWriter, mediaType string, httpStatus int, code codes.Code, msg string) {
	st := status.New(code, msg).Proto()
	var body []byte
	if mediaType == contentTypeJSON {
		body, _ = json.Marshal(struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}{int(code), msg})
	} else {
		var err error
		if body, err = proto.Marshal(st); err != nil {
			body = []byte(msg)
			mediaType = "text/plain; charset=utf-8"
		}
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(httpStatus)
	w.Write(body)
}
