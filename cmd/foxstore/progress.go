package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal, and nothing when
// its output is a pipe or a file.
type progress struct {
	w     io.Writer // nil: disabled
	label string
	start time.Time
	last  time.Time
	drawn bool
}

// checkProgress validates a --progress value.
func checkProgress(mode string) error {
	switch mode {
	case "auto", "always", "never":
		return nil
	}
	return usage("--progress %q: want auto, always or never", mode)
}

// newProgress enables the bar according to mode: "auto" (on when stderr
// is a terminal), "always" or "never".
func (a *app) newProgress(label string) *progress {
	p := &progress{label: label, start: time.Now()}
	switch a.progress {
	case "always":
		p.w = a.stderr
	case "never":
	default:
		if f, ok := a.stderr.(*os.File); ok && isTerminal(f) {
			p.w = a.stderr
		}
	}
	return p
}

// isTerminal reports whether f is a character device that is not a dumb
// terminal (a pipe, a file or TERM=dumb get no bar).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	return os.Getenv("TERM") != "dumb"
}

// update redraws the bar, at most ten times a second; total < 0 is unknown.
func (p *progress) update(done, total int) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if p.drawn && now.Sub(p.last) < 100*time.Millisecond && done != total {
		return
	}
	p.last, p.drawn = now, true
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-3)
	if total <= 0 {
		fmt.Fprintf(p.w, "\r\033[K%s %d keys  %.0f keys/s", p.label, done, rate)
		return
	}
	const width = 30
	frac := min(float64(done)/float64(total), 1)
	fill := int(frac * width)
	fmt.Fprintf(p.w, "\r\033[K%s [%s%s] %3.0f%% %d/%d keys  %.0f keys/s", p.label,
		strings.Repeat("#", fill), strings.Repeat(".", width-fill), frac*100, done, total, rate)
}

// done erases the bar.
func (p *progress) done() {
	if p.w != nil && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
