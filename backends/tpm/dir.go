package tpm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/backends"
)

// dir keeps envelopes as files in a folder: 0700 folder, 0600 files, each
// named by the hex SHA-256 of its key, which fits any file system whatever
// the key holds (slashes, 512 bytes of UTF-8) and differs for keys that
// differ only in case. A write goes to a temporary file that is synced and
// renamed over the old one, and the folder is synced after, so that a
// crash leaves the old envelope or the new one, never a torn one
// (rename(2) is atomic; tailscale's atomicfile does the same).
type dir struct{ path string }

// maxFileSize bounds what Get reads: envelopes of MaxValueSize values are
// under 1.5 MiB.
const maxFileSize = 4 << 20

// tmpPrefix starts the temporary files of writes in progress; List skips
// them, and openDir removes those a crash left behind.
const tmpPrefix = ".tmp-"

func openDir(path string) (*dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", path)
	}
	// MkdirAll keeps the mode of a folder that exists. The envelopes are
	// ciphertext, but their names and number are nobody else's business.
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o700); err != nil {
			return nil, err
		}
	}
	d := &dir{path: path}
	d.removeLeftovers()
	return d, nil
}

// removeLeftovers removes temporary files older than an hour: what a
// crash between create and rename left. Younger ones may belong to a write
// in progress in another process.
func (d *dir) removeLeftovers() {
	entries, _ := os.ReadDir(d.path)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.Remove(filepath.Join(d.path, e.Name()))
		}
	}
}

func (d *dir) file(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(d.path, hex.EncodeToString(sum[:]))
}

func (d *dir) Get(ctx context.Context, key string) ([]byte, error) {
	f, err := os.Open(d.file(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, backends.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes, which no envelope is", f.Name(), maxFileSize)
	}
	return b, nil
}

func (d *dir) Set(ctx context.Context, key string, value []byte) (err error) {
	f, err := os.CreateTemp(d.path, tmpPrefix+"*") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(value); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), d.file(key)); err != nil {
		return err
	}
	return d.syncDir()
}

func (d *dir) Delete(ctx context.Context, key string) error {
	err := os.Remove(d.file(key))
	if errors.Is(err, fs.ErrNotExist) {
		return backends.ErrNotFound
	}
	if err != nil {
		return err
	}
	return d.syncDir()
}

// List reads the key out of each envelope. An unreadable file, or one
// whose name is not its key's hash, is no entry of this store.
func (d *dir) List(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, err
	}
	keys := []string{}
	for _, e := range entries {
		name := e.Name()
		if len(name) != 2*sha256.Size || !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d.path, name))
		if err != nil {
			continue
		}
		var env struct {
			Key string `json:"key"`
		}
		if json.Unmarshal(b, &env) != nil || filepath.Base(d.file(env.Key)) != name {
			continue
		}
		keys = append(keys, env.Key)
	}
	return keys, nil
}

// syncDir makes a rename or removal durable (fsync(2) of the folder). On
// Windows a folder cannot be synced, and NTFS journals renames anyway.
func (d *dir) syncDir() error {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open(d.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return nil
}
