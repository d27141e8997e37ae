// Package server runs bijotel serve: an OTLP receiver over gRPC and HTTP
// that seals the spans of any language's exporters into a chain, and a REST
// API that reports on the chain.
//
// An OK reply to an export means durable: the receiver replies success only
// after the request's spans are committed, with group commit across
// concurrent requests. When sealing cannot keep up, it replies
// RESOURCE_EXHAUSTED with retry information (gRPC) or 503 with Retry-After
// (HTTP) before taking the spans, so exporters retry and nothing is sealed
// twice.
//
// Listeners bind to loopback by default. A non-loopback address is accepted
// only with an API token, which every endpoint but /api/health then
// requires as "Authorization: Bearer TOKEN", compared in constant time.
package server
