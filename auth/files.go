package auth

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// FileOptions says how a file-based authenticator (tokens, htpasswd,
// client DN map) notices that its file changed.
type FileOptions struct {
	// CheckInterval is how often, at most, the file's modification time
	// and size are checked (on a request); zero means one second and a
	// negative value means only Reload re-reads the file.
	CheckInterval time.Duration
	// Logger receives reload messages (never the file's contents);
	// default discards.
	Logger *slog.Logger
}

// watchedFile holds the parsed contents of a file and re-reads it when its
// modification time or size changes (checked at most once per interval) or
// when Reload is called. A file that fails to parse leaves the previous
// contents in place.
type watchedFile[T any] struct {
	path     string
	what     string // for messages, such as "tokens file"
	parse    func([]byte) (T, error)
	interval time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	value   T
	modTime time.Time
	size    int64
	checked time.Time
}

func newWatchedFile[T any](path, what string, parse func([]byte) (T, error), o FileOptions) (*watchedFile[T], error) {
	w := &watchedFile[T]{path: path, what: what, parse: parse, interval: o.CheckInterval, logger: o.Logger}
	if w.interval == 0 {
		w.interval = time.Second
	}
	if w.logger == nil {
		w.logger = slog.New(slog.DiscardHandler)
	}
	if err := w.Reload(); err != nil {
		return nil, err
	}
	return w, nil
}

// Reload re-reads the file now.
func (w *watchedFile[T]) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loadLocked()
}

func (w *watchedFile[T]) loadLocked() error {
	w.checked = time.Now()
	fi, err := os.Stat(w.path)
	if err != nil {
		return fmt.Errorf("auth: %s: %w", w.what, err)
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		return fmt.Errorf("auth: %s: %w", w.what, err)
	}
	v, err := w.parse(data)
	if err != nil {
		return fmt.Errorf("auth: %s %s: %w", w.what, w.path, err)
	}
	w.value, w.modTime, w.size = v, fi.ModTime(), fi.Size()
	return nil
}

// get returns the current contents, re-reading the file first if it is due
// for a check and has changed.
func (w *watchedFile[T]) get() T {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.interval > 0 && time.Since(w.checked) >= w.interval {
		w.checked = time.Now()
		fi, err := os.Stat(w.path)
		switch {
		case err != nil:
			w.logger.Warn("auth: cannot check file; keeping its previous contents", "file", w.path, "what", w.what, "err", err)
		case !fi.ModTime().Equal(w.modTime) || fi.Size() != w.size:
			if err := w.loadLocked(); err != nil {
				w.logger.Error("auth: cannot reload file; keeping its previous contents", "file", w.path, "err", err)
				w.modTime, w.size = fi.ModTime(), fi.Size() // retry only after the next change
			} else {
				w.logger.Info("auth: reloaded file", "file", w.path, "what", w.what)
			}
		}
	}
	return w.value
}
