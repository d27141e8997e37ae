package bijotel

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// BusyTimeoutMillis is how long an append waits for another writer's lock
// before it fails with ErrBusy. Python BIJOTEL uses the same 5 s.
const BusyTimeoutMillis = 5000

const schema = `
CREATE TABLE IF NOT EXISTS chain (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp_ns INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    span_name TEXT NOT NULL,
    span_kind TEXT,
    canonical_body BLOB NOT NULL,
    canonical_hash TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hmac_hash TEXT NOT NULL,
    semantic_body_hash TEXT
);
CREATE INDEX IF NOT EXISTS idx_chain_trace_id ON chain(trace_id);
CREATE INDEX IF NOT EXISTS idx_chain_semantic ON chain(semantic_body_hash);
`

// Chain is an HMAC chain stored in one SQLite file in the v1 format. Its
// methods are safe for concurrent use; appends from several goroutines or
// processes are serialized by SQLite's write lock.
type Chain struct {
	db       *sql.DB
	path     string
	readOnly bool
	secret   []byte
	// tempDir is a private copy of a read-only chain that could not be opened
	// in place; Close removes it.
	tempDir string
	logger  *slog.Logger

	mu     sync.Mutex
	closed bool

	// tree caches the right edge of the Merkle tree; see merkle.go.
	tree treeState
}

// Option configures Open and OpenReadOnly.
type Option interface {
	apply(*options)
}

type options struct {
	logger *slog.Logger
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLogger sets the logger for events that have no caller to return to,
// such as the fallbacks taken when opening a read-only copy. The default
// discards them.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) {
		if l != nil {
			o.logger = l
		}
	})
}

func newOptions(opts []Option) options {
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}

// Open opens or creates the chain at path for appending with secret. A new
// file is created with mode 0600 and Python BIJOTEL's schema; an existing
// file, including one written by Python, is used as it is. The database runs
// in WAL mode with synchronous=FULL, so a committed append survives a power
// loss, and a busy timeout of BusyTimeoutMillis.
func Open(path string, secret []byte, opts ...Option) (*Chain, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("open chain %s: %w: %d bytes, need at least %d", path, ErrInvalidSecret, len(secret), MinSecretLen)
	}
	o := newOptions(opts)

	// Create a new file ourselves so that it never exists with a wider mode;
	// SQLite gives the -wal and -shm files the database file's mode. An
	// existing file is left alone: closing any descriptor of a database file
	// drops the POSIX locks that other connections of this process hold on
	// it.
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("open chain %s: %w", path, err)
		}
		if err == nil {
			if err := f.Close(); err != nil {
				return nil, fmt.Errorf("open chain %s: %w", path, err)
			}
		}
	}

	dsn := sqliteURI(path) + "?_pragma=" + fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis) +
		"&_pragma=journal_mode(WAL)" +
		// FULL syncs the WAL on every commit: an acknowledged entry is on disk.
		"&_pragma=synchronous(FULL)" +
		// A 32 MiB page cache (the default is 2 MiB) keeps the index pages
		// that random trace ids and semantic hashes touch in memory as the
		// chain grows.
		"&_pragma=cache_size(-32768)" +
		// Checkpoint the WAL every 10,000 pages (about 40 MiB) instead of
		// 1,000: index and tree pages rewritten by successive commits are
		// then copied into the database once, not once per checkpoint.
		"&_pragma=wal_autocheckpoint(10000)" +
		// Every transaction starts with BEGIN IMMEDIATE, which takes the write
		// lock before the head is read. A deferred transaction that reads and
		// then writes gets SQLITE_BUSY at once, without waiting for the busy
		// timeout, and one that read a stale head would fork the chain.
		"&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open chain %s: %w", path, err)
	}
	if err := createSchema(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open chain %s: create schema: %w", path, err)
	}
	if err := checkSecret(db, secret); err != nil {
		db.Close()
		return nil, fmt.Errorf("open chain %s: %w", path, err)
	}
	return &Chain{db: db, path: path, secret: append([]byte(nil), secret...), logger: o.logger}, nil
}

// createSchema creates the tables when missing. When several processes open
// a new file at once, switching it to WAL mode can fail with SQLITE_BUSY
// without waiting for the busy timeout, so a busy failure is retried until
// the busy timeout has passed.
func createSchema(db *sql.DB) error {
	deadline := time.Now().Add(BusyTimeoutMillis * time.Millisecond)
	for {
		_, err := db.Exec(schema + merkleSchema)
		err = mapBusy(err)
		if err == nil || !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkSecret checks that the newest entry, if any, verifies with secret.
func checkSecret(db *sql.DB, secret []byte) error {
	var seq int64
	var prev, canonical, mac string
	err := db.QueryRow(`SELECT seq, prev_hash, canonical_hash, hmac_hash FROM chain ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev, &canonical, &mac)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the newest entry: %w", err)
	}
	if EntryHMAC(secret, prev, canonical) != mac {
		return fmt.Errorf("%w: the newest entry (seq %d) does not verify with it; use the secret the chain was written with, or check the chain with bijotel verify", ErrSecretMismatch, seq)
	}
	return nil
}

// OpenReadOnly opens the chain at path for reading and verification. It never
// creates or changes a file next to the database, so it works on a chain in a
// read-only directory such as a mounted backup. When SQLite cannot open the
// file in place read-only and the chain has a write-ahead log, it reads a
// private copy of the database and its log instead, so that entries committed
// only to the log are never missed.
func OpenReadOnly(path string, opts ...Option) (*Chain, error) {
	o := newOptions(opts)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open chain %s: %w", path, err)
	}

	c, err := openReadOnlyURI(path, "mode=ro")
	if err == nil {
		return c.withLogger(o.logger), nil
	}
	if !isCantOpen(err) {
		return nil, fmt.Errorf("open chain %s read-only: %w", path, err)
	}

	// SQLite could not open the file read-only in place, usually because the
	// -shm index is missing and the directory is not writable. immutable=1
	// ignores the WAL, which is right only when there is none.
	if walSize(path) == 0 {
		o.logger.Debug("opening chain as immutable", slog.String("path", path), slog.Any("error", err))
		c, err := openReadOnlyURI(path, "immutable=1")
		if err != nil {
			return nil, fmt.Errorf("open chain %s read-only: %w", path, err)
		}
		return c.withLogger(o.logger), nil
	}

	o.logger.Info("opening a private copy of the chain and its write-ahead log",
		slog.String("path", path), slog.Any("error", err))
	dir, err := os.MkdirTemp("", "bijotel-verify-")
	if err != nil {
		return nil, fmt.Errorf("open chain %s read-only: copy with its write-ahead log: %w", path, err)
	}
	copyPath := filepath.Join(dir, filepath.Base(path))
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(path+suffix, copyPath+suffix); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("open chain %s read-only: copy with its write-ahead log: %w", path, err)
		}
	}
	c, err = openReadOnlyURI(copyPath, "")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open chain %s read-only: open the copy: %w", path, err)
	}
	c.tempDir = dir
	c.path = path
	return c.withLogger(o.logger), nil
}

func (c *Chain) withLogger(l *slog.Logger) *Chain {
	c.logger = l
	return c
}

func openReadOnlyURI(path, params string) (*Chain, error) {
	dsn := sqliteURI(path) + "?" + params
	if params != "" {
		dsn += "&"
	}
	dsn += fmt.Sprintf("_pragma=busy_timeout(%d)", BusyTimeoutMillis)
	if params == "" {
		// A private copy: read-write so SQLite can replay the copied WAL.
		dsn += "&_pragma=journal_mode(WAL)"
	} else {
		dsn += "&_pragma=query_only(1)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// Opening is lazy: run a query that reads the schema so that a file
	// SQLite cannot read fails here, not on first use.
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'chain'`).Scan(&n); err != nil {
		db.Close()
		return nil, err
	}
	if n == 0 {
		db.Close()
		return nil, fmt.Errorf("no table named chain: not a bijotel chain database")
	}
	return &Chain{db: db, path: path, readOnly: true}, nil
}

// sqliteURI returns a file: URI for path. Characters that SQLite's URI parser
// treats specially are percent-encoded.
func sqliteURI(path string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(path)
}

func isCantOpen(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
		return true
	}
	return false
}

func walSize(path string) int64 {
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// mapBusy wraps SQLITE_BUSY errors with ErrBusy.
func mapBusy(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

// Path returns the file name the chain was opened with.
func (c *Chain) Path() string { return c.path }

// Close closes the database. Calls after the first return nil.
func (c *Chain) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.db.Close()
	if c.tempDir != "" {
		err = errors.Join(err, os.RemoveAll(c.tempDir))
	}
	return err
}
