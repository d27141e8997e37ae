package otelcohere

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/internal/httpbody"
)

// Instrumentation is the bijotel.instrumentation value of the spans.
const Instrumentation = "http_client"

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
		return httpbody.FailingTransport(fmt.Errorf("otelcohere: %w", err))
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

	data, err := httpbody.ReadRequest(req)
	if err != nil {
		return nil, fmt.Errorf("otelcohere: read request body: %w", err)
	}
	greq := genai.Request{
		Provider:        semconv.GenAIProviderNameCohere.Value.AsString(),
		Operation:       genai.OperationChat,
		Instrumentation: Instrumentation,
		ServerAddress:   req.URL.Hostname(),
		ServerPort:      httpbody.ServerPort(req),
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

// endWithHTTPError ends the call with the provider's error. A Cohere error
// body has only an id and a message, so error.type is the HTTP status code
// and the body is left to the application unread.
func endWithHTTPError(call *genai.Call, resp *http.Response) {
	httpErr := &genai.HTTPError{StatusCode: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	if httpErr.RetryAfter != "" {
		call.Span().SetAttributes(httpbody.RetryAfterKey.StringSlice([]string{httpErr.RetryAfter}))
	}
	call.End(httpErr)
}
