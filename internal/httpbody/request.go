package httpbody

import (
	"io"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
)

// RetryAfterKey records the Retry-After header of a failed response, named
// as the HTTP semantic conventions name response headers.
const RetryAfterKey = attribute.Key("http.response.header.retry-after")

// ReadRequest returns the body of req without consuming what the
// transport will send: through GetBody when req has it, and otherwise by
// reading and closing req.Body, whose bytes the caller must then send in a
// clone of req.
func ReadRequest(req *http.Request) ([]byte, error) {
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

// ServerPort returns the port req is sent to: the URL's port, or the
// scheme's default.
func ServerPort(req *http.Request) int {
	if p, err := strconv.Atoi(req.URL.Port()); err == nil {
		return p
	}
	if req.URL.Scheme == "http" {
		return 80
	}
	return 443
}

// FailingTransport returns a transport that fails every request with err,
// for instrumentations built with an invalid configuration: the first call
// reports it instead of going unrecorded.
func FailingTransport(err error) http.RoundTripper {
	return failingTransport{err}
}

type failingTransport struct{ err error }

func (t failingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return nil, t.err
}
