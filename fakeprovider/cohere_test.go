package fakeprovider

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestCohereStreamFraming(t *testing.T) {
	s, err := NewCohere()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, body := postBody(t, s.URL+"/v2/chat", nil, `{"model":"command-a-03-2025","stream":true,"messages":[{"role":"user","content":"Hi"}]}`)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	events := strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n")
	if last := events[len(events)-1]; last != "data: [DONE]" {
		t.Errorf("last event = %q, want data: [DONE]", last)
	}
	for _, e := range events[:len(events)-1] {
		name, data, ok := strings.Cut(e, "\ndata: ")
		var payload struct {
			Type string `json:"type"`
		}
		if !ok || json.Unmarshal([]byte(data), &payload) != nil || "event: "+payload.Type != name {
			t.Errorf("event %q is not an event line and a data line of the same type", e)
		}
	}
	if !strings.Contains(events[len(events)-2], `"type":"message-end"`) {
		t.Errorf("event before [DONE] = %q, want message-end", events[len(events)-2])
	}
}

func TestCohereHoldAfterEndsEventsWhole(t *testing.T) {
	s, err := NewCohere()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/v2/chat", strings.NewReader(`{"model":"m","stream":true,"messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(HeaderHoldAfter, "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []byte
	buf := make([]byte, 4096)
	for strings.Count(string(got), "\n\n") < 2 {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read: %v after %q", err, got)
		}
	}
	if !strings.HasSuffix(string(got), "\n\n") || strings.Count(string(got), "event: ") != 2 {
		t.Errorf("held stream = %q, want two whole events", got)
	}
}

func TestCohereErrors(t *testing.T) {
	s, err := NewCohere()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for model, code := range map[string]int{ModelRateLimited: 429, ModelServerError: 500} {
		resp, body := postBody(t, s.URL+"/v2/chat", nil, `{"model":"`+model+`","messages":[]}`)
		if resp.StatusCode != code {
			t.Errorf("%s: status %d, want %d", model, resp.StatusCode, code)
		}
		var e struct{ ID, Message string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.ID == "" || e.Message == "" {
			t.Errorf("%s: body %s, want an id and a message", model, body)
		}
		if ra := resp.Header.Get("Retry-After"); (code == 429) != (ra == CohereRetryAfter) {
			t.Errorf("%s: Retry-After = %q", model, ra)
		}
	}
}
