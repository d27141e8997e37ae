package fakeprovider

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// postBody sends a POST with the given headers and body and returns the
// response with its whole body.
func postBody(t *testing.T, url string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(data)
}

func TestGeminiStreamWithoutSSEIsJSONArray(t *testing.T) {
	s, err := NewGemini()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, body := postBody(t, s.URL+"/v1beta/models/gemini-2.5-flash:streamGenerateContent", nil, `{"contents":[{"parts":[{"text":"Hi"}]}]}`)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	var chunks []struct {
		UsageMetadata struct {
			CandidatesTokenCount int `json:"candidatesTokenCount"`
		} `json:"usageMetadata"`
	}
	if err := json.Unmarshal([]byte(body), &chunks); err != nil {
		t.Fatalf("body is not a JSON array: %v\n%s", err, body)
	}
	if n := len(chunks); n < 2 {
		t.Fatalf("%d chunks, want several", n)
	}
	if got := chunks[len(chunks)-1].UsageMetadata.CandidatesTokenCount; got != GeminiOutputTokens {
		t.Errorf("last chunk's candidatesTokenCount = %d, want the cumulative %d", got, GeminiOutputTokens)
	}
}

func TestGeminiErrors(t *testing.T) {
	s, err := NewGemini()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		path, status string
		code         int
	}{
		{"/v1beta/models/" + ModelRateLimited + ":generateContent", "RESOURCE_EXHAUSTED", 429},
		{"/v1beta/models/" + ModelServerError + ":streamGenerateContent?alt=sse", "INTERNAL", 500},
		{"/v1beta/models/gemini-2.5-flash:countTokens", "NOT_FOUND", 404},
	}
	for _, tt := range tests {
		resp, body := postBody(t, s.URL+tt.path, nil, `{}`)
		if resp.StatusCode != tt.code {
			t.Errorf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.code)
		}
		var e struct {
			Error struct {
				Code   int    `json:"code"`
				Status string `json:"status"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Status != tt.status || e.Error.Code != tt.code {
			t.Errorf("%s: body %s, want a Google error with status %s", tt.path, body, tt.status)
		}
	}
	resp, body := postBody(t, s.URL+"/v1beta/models/"+ModelRateLimited+":generateContent", nil, `{}`)
	if got := resp.Header.Get("Retry-After"); got != GeminiRetryAfter {
		t.Errorf("Retry-After = %q", got)
	}
	if !strings.Contains(body, `"retryDelay":"`+GeminiRetryAfter+`s"`) {
		t.Errorf("429 body lacks a RetryInfo detail: %s", body)
	}
}
