package fakeprovider

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

func TestBedrockConverseStreamFraming(t *testing.T) {
	s, err := NewBedrock()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// An inference profile ARN contains "/" and ":", escaped in the path.
	model := url.PathEscape("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0")
	resp, body := postBody(t, s.URL+"/model/"+model+"/converse-stream", nil, `{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.amazon.eventstream" {
		t.Errorf("Content-Type = %q", ct)
	}
	dec := eventstream.NewDecoder()
	r := bytes.NewReader([]byte(body))
	var types []string
	for {
		msg, err := dec.Decode(r, nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("decode message %d: %v", len(types), err)
		}
		if mt := msg.Headers.Get(":message-type"); mt == nil || mt.String() != "event" {
			t.Errorf("message %d has :message-type %v", len(types), mt)
		}
		types = append(types, msg.Headers.Get(":event-type").String())
	}
	if got := strings.Join(types, " "); !strings.HasPrefix(got, "messageStart contentBlockDelta") || !strings.HasSuffix(got, "contentBlockStop messageStop metadata") {
		t.Errorf("event types = %s", got)
	}
}

func TestBedrockErrors(t *testing.T) {
	s, err := NewBedrock()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		path, code string
		status     int
	}{
		{"/model/" + ModelRateLimited + "/converse", "ThrottlingException", 429},
		{"/model/" + ModelServerError + "/converse-stream", "InternalServerException", 500},
		{"/model/m/invoke", "UnknownOperationException", 404},
	}
	for _, tt := range tests {
		resp, body := postBody(t, s.URL+tt.path, nil, `{}`)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
		if got := resp.Header.Get("X-Amzn-ErrorType"); !strings.HasPrefix(got, tt.code+":") {
			t.Errorf("%s: X-Amzn-ErrorType = %q, want %s", tt.path, got, tt.code)
		}
		if !strings.Contains(body, `"message":`) {
			t.Errorf("%s: body %s lacks a message", tt.path, body)
		}
	}
}
