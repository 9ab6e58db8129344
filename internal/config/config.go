// Package config reads foxstore configuration from YAML and from plugin
// settings maps (CONTRACT §12).
//
// Both sources are first turned into one small tree of keys and values
// (tree.go), and one schema walk (fields.go) checks that tree and fills a
// driver.Config that starts from driver.DefaultConfig. The value rules are
// written once and also back Validate, which checks a Config built by hand.
//
// Decisions worth knowing:
//
//   - A key whose value is null (`cache_ttl:` or `cache_ttl: ~`, or nil in a
//     settings map) keeps its default, as `storage: ~` does for the section.
//   - In YAML an explicit zero is an error for cache_ttl, ttl_cleanup_interval,
//     flush_interval and max_value_size: in a Config zero means "use the
//     default", so accepting 0 would silently turn into 1s or 16MiB. To turn
//     the read cache off, set cache_size: 0.
//   - Numbers and booleans may also be given as strings ("500", "true"), so
//     that `${ENV_VAR}` works for every key, not only for string keys.
//   - String keys take the source text of a YAML number, so an unquoted
//     `password: 0123` is the password "0123", not 83.
//   - Errors never repeat the value of redis.password or database.dsn.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/foxstore/foxstore/driver"
)

// rootKey is the YAML key under which the storage section lives.
const rootKey = "storage"

// KeyError is the cause inside the *driver.Error that Parse, FromSettings
// and Validate return: which key is wrong, where, and why.
type KeyError struct {
	Key  string // full key, e.g. "storage.database.table"; "" for a document-level problem
	Line int    // 1-based YAML line; 0 when the value did not come from YAML
	Err  error  // what is wrong; never holds a secret value
}

func (e *KeyError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *KeyError) Unwrap() error { return e.Err }

// invalid wraps a config problem into the foxstore error type.
func invalid(err error) error {
	return &driver.Error{Op: "config", Code: driver.CodeInvalid, Err: err}
}

// Parse reads the YAML document data. The configuration lives under the root
// key "storage"; other root keys are ignored, so the section can sit in a
// larger application config. An empty document, a missing "storage" key or
// `storage: ~` give driver.DefaultConfig().
func Parse(data []byte) (driver.Config, error) {
	doc, err := decodeOne(data)
	if err != nil {
		return driver.Config{}, invalid(err)
	}
	section, err := storageSection(doc)
	if err != nil {
		return driver.Config{}, invalid(err)
	}
	if section == nil {
		return driver.DefaultConfig(), nil
	}
	tree, err := fromYAML(section, rootKey)
	if err != nil {
		return driver.Config{}, invalid(err)
	}
	cfg, err := build(tree, rootKey+".")
	if err != nil {
		return driver.Config{}, invalid(err)
	}
	return cfg, nil
}

// decodeOne parses data as exactly one YAML document; it returns nil for an
// empty input.
func decodeOne(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		// A second document would be silently ignored by most readers; say so
		// instead of guessing which one the user meant.
		return nil, &KeyError{Line: next.Line, Err: errors.New("want a single YAML document, found another one")}
	}
	return &doc, nil
}

// storageSection finds the value of the root "storage" key, or nil when the
// document has none.
func storageSection(doc *yaml.Node) (*yaml.Node, error) {
	if doc == nil {
		return nil, nil
	}
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	root = unalias(root)
	switch {
	case root.Kind == yaml.MappingNode:
	case root.Kind == yaml.ScalarNode && root.ShortTag() == nullTag:
		return nil, nil
	default:
		return nil, &KeyError{Line: root.Line, Err: errors.New("want a mapping at the top level of the document")}
	}
	// Only "storage" is ours: the other root keys belong to whoever owns the
	// rest of the file, so they are neither converted nor checked. For the
	// same reason a merge key ("<<") at the root is not followed.
	var found *yaml.Node
	foundLine := 0
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := unalias(root.Content[i])
		if k.Kind != yaml.ScalarNode || k.Value != rootKey {
			continue
		}
		if found != nil {
			return nil, &KeyError{Key: rootKey, Line: k.Line, Err: fmt.Errorf("duplicate key (first at line %d)", foundLine)}
		}
		found, foundLine = root.Content[i+1], k.Line
	}
	return found, nil
}

// FromSettings reads a PluginConfig.Settings map. It takes the same keys as
// the "storage" section of the YAML, either nested ("database": {"driver":
// "postgres"}) or dotted ("database.driver": "postgres"). Values may be Go
// strings, bools, integers, whole float64s (as JSON numbers arrive),
// time.Durations, slices and maps. A nil or empty map gives
// driver.DefaultConfig().
func FromSettings(m map[string]any) (driver.Config, error) {
	tree, err := fromSettings(m)
	if err != nil {
		return driver.Config{}, invalid(err)
	}
	cfg, err := build(tree, "")
	if err != nil {
		return driver.Config{}, invalid(err)
	}
	return cfg, nil
}

// Validate checks a Config built by hand against the same value rules as
// Parse. As documented on driver.Config, zero durations and sizes and empty
// names mean their defaults there and are accepted.
func Validate(cfg driver.Config) error {
	for i := range fields {
		f := &fields[i]
		if f.check == nil {
			continue
		}
		if err := f.check(&cfg); err != nil {
			return invalid(keyErr(f.key, 0, err))
		}
	}
	return nil
}
