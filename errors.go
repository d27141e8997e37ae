package bijotel

import "errors"

var (
	// ErrInvalidSecret is wrapped by errors about a malformed HMAC secret.
	ErrInvalidSecret = errors.New("invalid HMAC secret")

	// ErrSecretMismatch is wrapped by Open's error when the newest entry of
	// an existing chain does not verify with the secret given: appending
	// under another secret would break the chain at the first new entry.
	ErrSecretMismatch = errors.New("the secret does not match this chain")

	// ErrReadOnly is returned by writes to a chain opened with OpenReadOnly.
	ErrReadOnly = errors.New("chain opened read-only")

	// ErrBusy is wrapped by append errors caused by another writer holding the
	// database lock beyond the busy timeout. The append wrote nothing, so the
	// caller may retry it.
	ErrBusy = errors.New("chain database is locked by another writer")

	// ErrClosed is returned by operations on a closed Chain.
	ErrClosed = errors.New("chain is closed")

	// ErrNotFound is returned when a requested entry does not exist.
	ErrNotFound = errors.New("entry not found")
)
