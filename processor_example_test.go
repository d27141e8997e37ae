package bijotel_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	bijotel "github.com/bijotel/bijotel-go"
)

func ExampleNewProcessor() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bijotel-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "chain.db")
	secret := []byte("example secret of 32 bytes......") // use bijotel keygen

	p, err := bijotel.NewProcessor(path, secret)
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
	// An application would also call otel.SetTracerProvider(tp).

	_, span := tp.Tracer("example").Start(ctx, "chat")
	span.SetAttributes(attribute.String("gen_ai.request.model", "gpt-4o"))
	span.End()
	if err := tp.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}

	c, err := bijotel.OpenReadOnly(path)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	rep, err := bijotel.Verify(ctx, c, secret)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Valid, rep.Spans)
	// Output: true 1
}
