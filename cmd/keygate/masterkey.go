package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/keygate/keygate/httpsig"
)

// envMasterKey holds the master key as 64 hex characters, for deployments
// that keep it in a secrets manager rather than in a file.
const envMasterKey = "KEYGATE_MASTER_KEY"

// masterKeyFileName is the master key file's name when --master-key-file
// is not given: next to the SQLite database, or in the working directory
// for PostgreSQL.
const masterKeyFileName = "keygate.key"

// masterKeyWait bounds how long a process that lost the race to create the
// master key file waits for the winner to finish writing it.
const masterKeyWait = 5 * time.Second

// errMasterKeyFormat reports a master key that is not 64 hex characters.
// It never quotes the value.
var errMasterKeyFormat = fmt.Errorf("a master key must be %d hex characters (%d random bytes)", 2*httpsig.MasterKeyLen, httpsig.MasterKeyLen)

// masterKeySource says where the master key comes from: a file, or the
// value of $KEYGATE_MASTER_KEY.
type masterKeySource struct {
	// path is the key file, created on first use; empty when env is
	// used.
	path string
	// env is the value of $KEYGATE_MASTER_KEY, when path is empty.
	env string
}

// String names the source for messages, never with the key.
func (s masterKeySource) String() string {
	if s.path == "" {
		return "$" + envMasterKey
	}
	return s.path
}

// load returns the master key. A key file that does not exist is created
// first, with mode 0600 and 32 random bytes in hex, and created says so.
// Creating is exclusive (O_EXCL): of several processes starting at once,
// one writes the file and the others read what it wrote.
func (s masterKeySource) load(ctx context.Context) (key []byte, created bool, err error) {
	if s.path == "" {
		key, err := parseMasterKey(s.env)
		if err != nil {
			return nil, false, fmt.Errorf("$%s: %w", envMasterKey, err)
		}
		return key, false, nil
	}
	key, err = readMasterKeyFile(s.path)
	switch {
	case err == nil:
		return key, false, nil
	case errors.Is(err, fs.ErrNotExist):
		key = make([]byte, httpsig.MasterKeyLen)
		rand.Read(key)
		switch err := writeMasterKeyFile(s.path, key); {
		case err == nil:
			return key, true, nil
		case !errors.Is(err, fs.ErrExist):
			return nil, false, err
		}
	case !errors.Is(err, errMasterKeyIncomplete):
		return nil, false, err
	}
	// Another process created the file first: read its key once it has
	// written it.
	deadline := time.Now().Add(masterKeyWait)
	for {
		key, err := readMasterKeyFile(s.path)
		if err == nil || !errors.Is(err, errMasterKeyIncomplete) || time.Now().After(deadline) {
			return key, false, err
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// errMasterKeyIncomplete reports a key file shorter than a key: one that
// another process is still writing, or a truncated one.
var errMasterKeyIncomplete = errors.New("the master key file is incomplete")

// readMasterKeyFile reads the key in the file at path (64 hex characters,
// surrounding white space ignored).
func readMasterKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	defer f.Close()
	// A key file is short: reading more than a little would only ever
	// read something else.
	data, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	if len(strings.TrimSpace(string(data))) < 2*httpsig.MasterKeyLen {
		return nil, fmt.Errorf("master key %s: %w", path, errMasterKeyIncomplete)
	}
	key, err := parseMasterKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	return key, nil
}

// writeMasterKeyFile creates the file at path, which must not exist, with
// mode 0600, and writes key to it in hex.
func writeMasterKeyFile(path string, key []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// A half-written key file would stop every later start.
		os.Remove(path)
		return fmt.Errorf("master key %s: %w", path, err)
	}
	return nil
}

// parseMasterKey decodes 64 hex characters (surrounding white space
// ignored) into a master key. Its errors never quote s.
func parseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*httpsig.MasterKeyLen {
		return nil, errMasterKeyFormat
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		return nil, errMasterKeyFormat
	}
	return key, nil
}

// masterKeyWarning returns a warning when the key file at path can be
// read by other users, or "" when it cannot (or on systems without Unix
// permissions).
func masterKeyWarning(path string) string {
	if runtime.GOOS == "windows" {
		return ""
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("keygate: warning: the master key file %s is readable by other users (mode %v); chmod 600 it", path, fi.Mode().Perm())
}
