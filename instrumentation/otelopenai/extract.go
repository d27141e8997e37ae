package otelopenai

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/bijotel/bijotel-go/genai"
)

// ChatCompletionRequest returns the genai.Request of Chat Completions
// params, for genai.Wrap. The provider is "openai"; set Provider for an
// OpenAI-compatible one.
func ChatCompletionRequest(params openai.ChatCompletionNewParams) genai.Request {
	req := genai.Request{Provider: "openai", Operation: genai.OperationChat}
	if data, err := json.Marshal(params); err == nil {
		parseChatRequest(data, &req)
	}
	return req
}

// ChatCompletionResponse returns the genai.Response of a Chat Completions
// result, for genai.Wrap. It reads the JSON the provider sent, so fields the
// SDK does not type are kept.
func ChatCompletionResponse(c *openai.ChatCompletion) genai.Response {
	if c == nil {
		return genai.Response{}
	}
	resp, _ := chatResponse(rawOrMarshal(c.RawJSON(), c))
	return resp
}

// ResponsesRequest returns the genai.Request of Responses API params, for
// genai.Wrap.
func ResponsesRequest(params responses.ResponseNewParams) genai.Request {
	req := genai.Request{Provider: "openai", Operation: genai.OperationChat}
	if data, err := json.Marshal(params); err == nil {
		parseResponsesRequest(data, &req)
	}
	return req
}

// ResponsesResponse returns the genai.Response of a Responses API result,
// for genai.Wrap.
func ResponsesResponse(r *responses.Response) genai.Response {
	if r == nil {
		return genai.Response{}
	}
	var obj responseObject
	if json.Unmarshal(rawOrMarshal(r.RawJSON(), r), &obj) != nil {
		return genai.Response{}
	}
	return obj.convert()
}

// rawOrMarshal returns the JSON an SDK value was decoded from, or its
// encoding when the application built the value itself.
func rawOrMarshal(raw string, v any) []byte {
	if raw != "" {
		return []byte(raw)
	}
	data, _ := json.Marshal(v)
	return data
}

// TypedError returns err with the error.type that the middleware would
// record: the provider's error type from an *openai.Error, else its code,
// else its HTTP status. Other errors, and nil, are returned unchanged. The
// result unwraps to err, so errors.As still finds the *openai.Error. Use it
// in a call recorded by genai.Wrap, which otherwise records the Go type
// name.
func TypedError(err error) error {
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		return err
	}
	typ := apiErr.Type
	if typ == "" {
		typ = apiErr.Code
	}
	if typ == "" {
		typ = strconv.Itoa(apiErr.StatusCode)
	}
	return &typedError{err: err, typ: typ}
}

var _ genai.TypedError = (*typedError)(nil)

type typedError struct {
	err error
	typ string
}

func (e *typedError) Error() string     { return e.err.Error() }
func (e *typedError) Unwrap() error     { return e.err }
func (e *typedError) ErrorType() string { return e.typ }
