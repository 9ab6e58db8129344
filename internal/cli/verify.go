package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/foxstore/foxstore"
)

// FileCheck is what Verify found about one file.
type FileCheck struct {
	Path     string    `json:"path"`
	Role     string    `json:"role"`   // store, backup, moved-aside
	Status   string    `json:"status"` // ok, damaged, unreadable
	Keys     int       `json:"keys"`   // live keys it restores; -1 when unknown
	Modified time.Time `json:"modified"`
	Detail   string    `json:"detail,omitempty"`
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	Store string `json:"store"`
	// Healthy is true when every file of the store verifies.
	Healthy bool `json:"healthy"`
	// Opens is true when the store opens (possibly from a backup or by
	// skipping damaged log segments).
	Opens bool `json:"opens"`
	// RecoversFrom names what the store opens from when files are damaged.
	RecoversFrom string      `json:"recovers_from,omitempty"`
	Keys         int         `json:"keys"` // live keys the store opens with
	Files        []FileCheck `json:"files"`
	Advice       string      `json:"advice"`
}

// Verify checks the file store at path without changing any file: it opens
// the store read-only and notes every damaged file the file backend skips,
// then opens each rotated backup (path.bak1, path.bak2, ...) the same way to
// see whether it verifies and how many keys it would restore.
//
// It relies on the file backend's read-only open and on the warnings it
// logs (attributes "file", "err" and "recovered_from"); the backend does not
// offer a verification call of its own.
func Verify(ctx context.Context, path string) (*VerifyReport, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, &foxstore.Error{Op: "verify", Code: foxstore.CodeInvalid, Err: fmt.Errorf("no store at %s: %w", path, err)}
	}
	rep := &VerifyReport{Store: path}
	main := FileCheck{Path: path, Role: "store", Keys: -1}
	if fi, err := os.Stat(path); err == nil {
		main.Modified = fi.ModTime()
	}
	keys, warns, err := openCheck(ctx, path)
	damaged := map[string]string{}
	for _, w := range warns {
		if w.file != "" {
			damaged[w.file] = w.err
		}
		if w.from != "" {
			rep.RecoversFrom = w.from
		}
	}
	switch {
	case err != nil && foxstore.CodeOf(err) == foxstore.CodeCorrupted:
		main.Status, main.Detail = "damaged", errText(err)
	case err != nil:
		return nil, err
	default:
		rep.Opens, rep.Keys, main.Keys = true, keys, keys
		main.Status = "ok"
		if d, bad := damaged[abs(path)]; bad {
			main.Status, main.Detail = "damaged", d
			main.Keys = -1
		}
	}
	rep.Files = append(rep.Files, main)
	// Damaged files other than the snapshot (log segments) and the backups.
	var others []string
	for f := range damaged {
		if f != abs(path) {
			others = append(others, f)
		}
	}
	slices.Sort(others)
	backups := backupsOf(path)
	for _, f := range others {
		if slices.Contains(backups, f) {
			continue // checked below
		}
		rep.Files = append(rep.Files, FileCheck{Path: f, Role: "log", Status: "damaged", Keys: -1, Detail: damaged[f]})
	}
	for _, b := range backups {
		fc := FileCheck{Path: b, Role: "backup", Keys: -1}
		if fi, err := os.Stat(b); err == nil {
			fc.Modified = fi.ModTime()
		}
		n, _, err := openCheck(ctx, b)
		switch {
		case err == nil:
			fc.Status, fc.Keys = "ok", n
		case foxstore.CodeOf(err) == foxstore.CodeCorrupted:
			fc.Status, fc.Detail = "damaged", errText(err)
		default:
			fc.Status, fc.Detail = "unreadable", errText(err)
		}
		rep.Files = append(rep.Files, fc)
	}
	for _, f := range movedAside(path) {
		rep.Files = append(rep.Files, FileCheck{Path: f, Role: "moved-aside", Status: "damaged", Keys: -1,
			Detail: "moved aside by an earlier recovery; kept for inspection, never read"})
	}
	rep.Healthy = rep.Opens && len(damaged) == 0
	for _, f := range rep.Files {
		if f.Role == "backup" && f.Status != "ok" {
			rep.Healthy = false
		}
	}
	rep.Advice = advice(rep)
	return rep, nil
}

func errText(err error) string {
	var fe *foxstore.Error
	if errors.As(err, &fe) && fe.Err != nil {
		return fe.Err.Error()
	}
	return err.Error()
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}

// backupsOf lists path.bak1, path.bak2, ... in order.
func backupsOf(path string) []string {
	var out []string
	for i := 1; ; i++ {
		b := fmt.Sprintf("%s.bak%d", abs(path), i)
		if _, err := os.Stat(b); errors.Is(err, fs.ErrNotExist) {
			if i > 64 {
				return out
			}
			continue
		}
		out = append(out, b)
	}
}

// movedAside lists files an earlier recovery moved aside.
func movedAside(path string) []string {
	m, _ := filepath.Glob(abs(path) + ".*corrupt-*")
	slices.Sort(m)
	return m
}

func advice(rep *VerifyReport) string {
	var good []string
	for _, f := range rep.Files {
		if f.Role == "backup" && f.Status == "ok" {
			good = append(good, fmt.Sprintf("%s (%d keys, %s)", f.Path, f.Keys, f.Modified.Format(time.DateTime)))
		}
	}
	switch {
	case rep.Healthy:
		return fmt.Sprintf("the store and its backups verify; it holds %d live keys", rep.Keys)
	case rep.Opens && rep.RecoversFrom != "":
		return fmt.Sprintf("damaged files found; the store still opens from %s with %d live keys. The next program that opens it for writing moves the damaged files aside and writes a fresh snapshot.", rep.RecoversFrom, rep.Keys)
	case rep.Opens:
		return fmt.Sprintf("the store opens with %d live keys, but some backups do not verify: they cannot restore it", rep.Keys)
	case len(good) > 0:
		return fmt.Sprintf("the store cannot be opened: nothing in its files verifies as the current data. Valid backups: %s. To restore one, stop every program using the store, move %s aside and copy the backup in its place.",
			strings.Join(good, ", "), rep.Store)
	}
	return "the store cannot be opened and no backup verifies: restore it from an export or an online backup (foxstore backup) if you have one"
}

// warning is one warning the file backend logged while opening.
type warning struct{ msg, file, from, err string }

// openCheck opens the file store at path read-only and returns its live key
// count and the warnings the backend logged.
func openCheck(ctx context.Context, path string) (int, []warning, error) {
	h := &collector{}
	cfg := foxstore.Config{Backend: "file", FilePath: path, ReadOnly: true, Logger: slog.New(h)}
	s, err := foxstore.Open(ctx, cfg)
	if err != nil {
		return 0, h.list(), err
	}
	defer s.(foxstore.Store).Close()
	n, err := s.Count(ctx, "*")
	return n, h.list(), err
}

// collector is a slog.Handler that keeps warnings.
type collector struct {
	mu    sync.Mutex
	warns []warning
}

func (c *collector) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (c *collector) WithAttrs([]slog.Attr) slog.Handler           { return c }
func (c *collector) WithGroup(string) slog.Handler                { return c }

func (c *collector) Handle(_ context.Context, r slog.Record) error {
	w := warning{msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "file":
			w.file = a.Value.String()
		case "recovered_from":
			w.from = a.Value.String()
		case "err":
			w.err = a.Value.String()
		}
		return true
	})
	c.mu.Lock()
	c.warns = append(c.warns, w)
	c.mu.Unlock()
	return nil
}

func (c *collector) list() []warning {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.warns)
}
