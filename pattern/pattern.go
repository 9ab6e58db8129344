// Package pattern compiles the glob syntax of Redis KEYS (CONTRACT §5).
package pattern

import "errors"

// Pattern is a compiled glob pattern.
type Pattern struct{ src string }

// Compile compiles p.
func Compile(p string) (*Pattern, error) { return nil, errors.New("TODO") }

// Match reports whether key matches the pattern.
func (p *Pattern) Match(key string) bool { return false }

// Prefix returns the literal prefix that every matching key starts with.
func (p *Pattern) Prefix() string { return "" }

// Literal returns the one key the pattern matches and true when the pattern
// has no wildcard.
func (p *Pattern) Literal() (string, bool) { return "", false }

// String returns the source pattern.
func (p *Pattern) String() string { return p.src }
