package simbackend

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/occid/occi"
)

const stateFile = "state.json"

// load reads the state kept in dir, or returns an empty state when dir is ""
// or holds none yet.
func load(dir string) (*state, error) {
	st := &state{Version: 1, Objects: map[string]*object{}}
	if dir == "" {
		return st, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("simbackend: reading state: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("simbackend: state file %s is corrupt: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("simbackend: state file %s has version %d, want 1", filepath.Join(dir, stateFile), st.Version)
	}
	if st.Objects == nil {
		st.Objects = map[string]*object{}
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("simbackend: state file %s is corrupt: %s", filepath.Join(dir, stateFile), fmt.Sprintf(format, args...))
	}
	locs := map[string]bool{}
	for ref, o := range st.Objects {
		switch {
		case o == nil:
			return nil, corrupt("object %q is null", ref)
		case o.Location == "" || locs[o.Location]:
			return nil, corrupt("object %q has an empty or duplicate location %q", ref, o.Location)
		}
		locs[o.Location] = true
	}
	names := map[string]bool{}
	for i, t := range st.Templates {
		if t == nil || !occi.ValidTerm(t.Name) || names[t.Name] {
			return nil, corrupt("template %d is null, unnamed or named twice", i)
		}
		names[t.Name] = true
	}
	return st, nil
}

// persistLocked writes the whole state to Dir atomically: a temporary file
// is written and synced, renamed over state.json, and the directory synced.
// It does nothing for an in-memory driver.
func (d *Driver) persistLocked() error {
	if d.opts.Dir == "" || d.closed {
		return nil // a closed driver no longer owns Dir
	}
	b, err := json.MarshalIndent(d.st, "", "  ")
	if err != nil {
		return fmt.Errorf("simbackend: encoding state: %w", err)
	}
	f, err := os.CreateTemp(d.opts.Dir, stateFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("simbackend: writing state: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(d.opts.Dir, stateFile))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("simbackend: writing state: %w", err)
	}
	if dir, err := os.Open(d.opts.Dir); err == nil {
		err = dir.Sync()
		dir.Close()
		if err != nil {
			return fmt.Errorf("simbackend: syncing state directory: %w", err)
		}
	}
	return nil
}
