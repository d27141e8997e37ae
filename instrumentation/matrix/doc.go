// Package matrix holds the acceptance test of the provider
// instrumentations and has no API. Its tests drive the real Go SDK of each
// provider against the fakeprovider servers on loopback and seal the spans
// into a chain with a bijotel Processor. They then check the sealed rows:
// one row per call, a valid chain, and the GenAI attributes that each
// instrumentation promises.
package matrix
