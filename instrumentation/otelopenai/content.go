package otelopenai

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/jcs"
)

// contentPart is one element of a content array in either API.
type contentPart struct {
	Type       string          `json:"type"`
	Text       string          `json:"text"`
	Refusal    string          `json:"refusal"`
	ImageURL   json.RawMessage `json:"image_url"`
	FileID     string          `json:"file_id"`
	InputAudio *struct {
		Data   string `json:"data"`
		Format string `json:"format"`
	} `json:"input_audio"`
}

// contentParts converts message content: a string, an array of parts, or
// null. Text parts keep their text; images and audio become uri or blob
// parts; any other part records only its type.
func contentParts(raw json.RawMessage) []genai.Part {
	if isNull(raw) {
		return nil
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return []genai.Part{genai.TextPart(text)}
	}
	var parts []contentPart
	if json.Unmarshal(raw, &parts) != nil {
		return nil
	}
	out := make([]genai.Part, 0, len(parts))
	for _, p := range parts {
		switch p.Type {
		case "text", "input_text", "output_text":
			out = append(out, genai.TextPart(p.Text))
		case "refusal":
			out = append(out, refusalPart(p.Refusal))
		case "image_url", "input_image":
			out = append(out, imagePart(p))
		case "input_audio":
			part := genai.Part{"type": "blob", "modality": "audio"}
			if p.InputAudio != nil {
				part["mime_type"] = "audio/" + p.InputAudio.Format
				part["content"] = p.InputAudio.Data
			}
			out = append(out, part)
		default:
			out = append(out, genai.Part{"type": p.Type})
		}
	}
	return out
}

// imagePart converts an image given by URL, data URL or file id. The
// image_url field is an object with a url in Chat Completions and a string
// in the Responses API.
func imagePart(p contentPart) genai.Part {
	var url string
	if json.Unmarshal(p.ImageURL, &url) != nil {
		var obj struct {
			URL string `json:"url"`
		}
		json.Unmarshal(p.ImageURL, &obj)
		url = obj.URL
	}
	if mime, data, ok := parseDataURL(url); ok {
		return genai.Part{"type": "blob", "modality": "image", "mime_type": mime, "content": data}
	}
	if url == "" && p.FileID != "" {
		return genai.Part{"type": "file", "modality": "image", "file_id": p.FileID}
	}
	return genai.Part{"type": "uri", "modality": "image", "uri": url}
}

// parseDataURL splits a base64 data URL into its media type and data.
func parseDataURL(url string) (mime, data string, ok bool) {
	rest, found := strings.CutPrefix(url, "data:")
	if !found {
		return "", "", false
	}
	meta, data, found := strings.Cut(rest, ",")
	if !found {
		return "", "", false
	}
	mime, _, _ = strings.Cut(meta, ";")
	return mime, data, true
}

// contentText returns message content as text: a string as it is, the
// texts of an array of parts joined, or the JSON text of anything else.
func contentText(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text
	}
	var parts []contentPart
	if json.Unmarshal(raw, &parts) == nil {
		texts := make([]string, 0, len(parts))
		for _, p := range parts {
			texts = append(texts, p.Text)
		}
		return strings.Join(texts, "")
	}
	return string(raw)
}

// jsonValue decodes JSON text into the value tree that the span encoder
// takes, or returns the text itself when it is not valid JSON.
func jsonValue(raw json.RawMessage) any {
	v, err := jcs.Parse(raw)
	if err != nil {
		return string(raw)
	}
	return v
}

// isNull reports whether raw is absent or the JSON null, which
// json.Unmarshal would silently accept into a string.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}
