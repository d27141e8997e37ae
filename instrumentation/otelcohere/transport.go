package otelcohere

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/bijotel/bijotel-go/genai"
)

// Instrumentation is the bijotel.instrumentation value of the spans.
const Instrumentation = "http_client"

// retryAfterKey records the Retry-After header of a failed response, named
// as the HTTP semantic conventions name response headers.
const retryAfterKey = attribute.Key("http.response.header.retry-after")

// NewHTTPClient returns a copy of base whose transport records each v2
// chat call as a span, configured by opts. A nil base stands for a zero
// http.Client. Pass the result to the SDK with option.WithHTTPClient:
//
//	co := cohereclient.NewClient(
//		option.WithToken(key),
//		option.WithHTTPClient(otelcohere.NewHTTPClient(nil)),
//	)
func NewHTTPClient(base *http.Client, opts ...genai.Option) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	c.Transport = Transport(c.Transport, opts...)
	return c
}

// Transport wraps base, or http.DefaultTransport when base is nil, so that
// each POST to a /v2/chat URL is recorded as a span, configured by opts.
// Other requests pass through unrecorded. Invalid opts make every request
// fail with the configuration error, so that a misconfigured audit log is
// noticed at the first call.
func Transport(base http.RoundTripper, opts ...genai.Option) http.RoundTripper {
	cfg, err := genai.NewConfig(opts...)
	if err != nil {
		return failingTransport{fmt.Errorf("otelcohere: %w", err)}
	}
	return NewTransport(cfg, base)
}

// NewTransport returns the transport of Transport with a resolved
// configuration, which several clients may share.
func NewTransport(cfg *genai.Config, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{cfg: cfg, base: base}
}

type failingTransport struct{ err error }

func (t failingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return nil, t.err
}

type transport struct {
	cfg  *genai.Config
	base http.RoundTripper
}

// isChat reports whether req calls the v2 chat endpoint, under any path
// prefix.
func isChat(req *http.Request) bool {
	return req.Method == http.MethodPost && strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/v2/chat")
}

// RoundTrip records the call and sends req through the base transport. A
// recorded request is sent as a clone that carries the span's context and
// an identical body. RoundTrip reads the body through GetBody when req has
// it, and otherwise reads and closes req.Body itself.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isChat(req) {
		return t.base.RoundTrip(req)
	}

	data, err := readRequestBody(req)
	if err != nil {
		return nil, fmt.Errorf("otelcohere: read request body: %w", err)
	}
	greq := genai.Request{
		Provider:        semconv.GenAIProviderNameCohere.Value.AsString(),
		Operation:       genai.OperationChat,
		Instrumentation: Instrumentation,
		ServerAddress:   req.URL.Hostname(),
		ServerPort:      serverPort(req),
	}
	typ := parseRequest(data, &greq)
	ctx, call := t.cfg.Start(req.Context(), greq)
	if typ != "" {
		call.Span().SetAttributes(semconv.GenAIOutputTypeKey.String(typ))
	}

	out := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = io.NopCloser(bytes.NewReader(data))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		call.End(err)
		return resp, err
	}
	call.Span().SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		endWithHTTPError(call, resp)
		return resp, nil
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		call.MarkIncomplete("response has no body")
		call.End(nil)
		return resp, nil
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		// The base transport left the body compressed, because the
		// application asked for an encoding itself.
		call.MarkIncomplete("response body with Content-Encoding " + enc + " was not parsed")
		call.End(nil)
		return resp, nil
	}

	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var acc accumulator = &replyJSON{}
	stream := mediaType == "text/event-stream"
	if stream {
		acc = &replyStream{}
	}
	resp.Body = newBody(ctx, resp.Body, call, acc, stream)
	return resp, nil
}

// readRequestBody returns the request body without consuming req.Body, from
// GetBody when the request has it.
func readRequestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	data, err := io.ReadAll(req.Body)
	req.Body.Close()
	return data, err
}

func serverPort(req *http.Request) int {
	if p, err := strconv.Atoi(req.URL.Port()); err == nil {
		return p
	}
	if req.URL.Scheme == "http" {
		return 80
	}
	return 443
}

// endWithHTTPError ends the call with the provider's error. A Cohere error
// body has only an id and a message, so error.type is the HTTP status code
// and the body is left to the application unread.
func endWithHTTPError(call *genai.Call, resp *http.Response) {
	httpErr := &genai.HTTPError{StatusCode: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	if httpErr.RetryAfter != "" {
		call.Span().SetAttributes(retryAfterKey.StringSlice([]string{httpErr.RetryAfter}))
	}
	call.End(httpErr)
}
