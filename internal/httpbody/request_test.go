package httpbody

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestReadRequestKeepsBodyForGetBody(t *testing.T) {
	req, err := http.NewRequest(http.MethodPost, "https://api.example.com/v2/chat", strings.NewReader(`{"model":"m"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadRequest(req)
	if err != nil || string(got) != `{"model":"m"}` {
		t.Fatalf("ReadRequest = %q, %v", got, err)
	}
	rest, _ := io.ReadAll(req.Body)
	if string(rest) != `{"model":"m"}` {
		t.Errorf("req.Body after ReadRequest = %q, want it unread", rest)
	}
}

func TestReadRequestWithoutGetBody(t *testing.T) {
	req := &http.Request{Method: http.MethodPost, Body: io.NopCloser(bytes.NewReader([]byte("abc")))}
	got, err := ReadRequest(req)
	if err != nil || string(got) != "abc" {
		t.Fatalf("ReadRequest = %q, %v", got, err)
	}
	if got, err := ReadRequest(&http.Request{}); got != nil || err != nil {
		t.Errorf("ReadRequest without a body = %q, %v; want nil, nil", got, err)
	}
}

func TestServerPort(t *testing.T) {
	for url, want := range map[string]int{
		"https://api.example.com/v1": 443,
		"http://127.0.0.1/v1":        80,
		"http://127.0.0.1:8123/v1":   8123,
	} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if got := ServerPort(req); got != want {
			t.Errorf("ServerPort(%s) = %d, want %d", url, got, want)
		}
	}
}

func TestFailingTransport(t *testing.T) {
	want := errors.New("invalid content mode")
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader("x"))
	resp, err := FailingTransport(want).RoundTrip(req)
	if resp != nil || !errors.Is(err, want) {
		t.Errorf("RoundTrip = %v, %v; want nil and the configuration error", resp, err)
	}
}
