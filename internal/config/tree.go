package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The schema is three levels deep (storage.redis.addrs[i]); a deeper value is
// wrong anyway, and the limits keep a hostile document (an alias bomb, a
// self-referencing settings map) from costing more than a small one.
const (
	maxDepth = 8
	maxNodes = 10000
)

// YAML short tags that matter here.
const (
	nullTag      = "!!null"
	boolTag      = "!!bool"
	strTag       = "!!str"
	intTag       = "!!int"
	floatTag     = "!!float"
	timestampTag = "!!timestamp"
	mergeTag     = "!!merge"
)

type kind uint8

const (
	kindNull kind = iota
	kindString
	kindInt
	kindFloat
	kindBool
	kindDuration
	kindMap
	kindList
	kindOther // a scalar no key takes as such: a timestamp, binary, a custom tag, an unsupported Go type
)

// node is one value of the common tree that both YAML and settings maps are
// turned into before any key is checked.
type node struct {
	kind kind
	line int // 1-based YAML line, 0 for settings

	// Scalars. text is the string of a kindString, and the written form of
	// a number or a YAML timestamp (see textOK).
	text   string
	textOK bool   // text may stand for the value where a string is wanted
	desc   string // kindOther: what the value is, for messages
	i      int64
	big    bool // kindInt beyond int64
	f      float64
	b      bool
	d      time.Duration

	entries []entry // kindMap, in document order (sorted keys for settings)
	items   []*node // kindList
}

type entry struct {
	key  string
	line int
	val  *node
}

func (n *node) lookup(key string) *entry {
	for i := range n.entries {
		if n.entries[i].key == key {
			return &n.entries[i]
		}
	}
	return nil
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func unalias(n *yaml.Node) *yaml.Node {
	// An alias points at an anchored node, never at another alias; the
	// loop is a guard, not a recursion.
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

// fromYAML converts the YAML value at path into the common tree.
func fromYAML(n *yaml.Node, path string) (*node, error) {
	c := yamlConverter{}
	return c.convert(n, path, 0)
}

type yamlConverter struct{ nodes int }

func (c *yamlConverter) convert(n *yaml.Node, path string, depth int) (*node, error) {
	line := n.Line // an alias is reported where it is used
	n = unalias(n)
	c.nodes++
	if c.nodes > maxNodes {
		return nil, &KeyError{Key: path, Line: line, Err: fmt.Errorf("too many values (more than %d, counting aliases)", maxNodes)}
	}
	if depth > maxDepth {
		return nil, &KeyError{Key: path, Line: line, Err: errors.New("nested too deeply")}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return yamlScalar(n, line), nil
	case yaml.SequenceNode:
		out := &node{kind: kindList, line: line}
		for i, item := range n.Content {
			v, err := c.convert(item, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, v)
		}
		return out, nil
	case yaml.MappingNode:
		return c.mapping(n, path, line, depth)
	default:
		return nil, &KeyError{Key: path, Line: line, Err: errors.New("unresolvable alias")}
	}
}

// mapping converts a YAML mapping, rejecting duplicate keys and applying
// merge keys ("<<: *base"): merged entries fill in keys the mapping does not
// set itself, earlier merged mappings winning over later ones.
func (c *yamlConverter) mapping(n *yaml.Node, path string, line, depth int) (*node, error) {
	out := &node{kind: kindMap, line: line}
	seen := make(map[string]int) // key -> line of its first occurrence
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := unalias(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			return nil, &KeyError{Key: path, Line: n.Content[i].Line, Err: errors.New("want string keys, found a mapping or list used as a key")}
		}
		if k.ShortTag() == mergeTag {
			merges = append(merges, n.Content[i+1])
			continue
		}
		key, keyLine := k.Value, n.Content[i].Line
		if first, dup := seen[key]; dup {
			return nil, &KeyError{Key: joinKey(path, key), Line: keyLine, Err: fmt.Errorf("duplicate key (first at line %d)", first)}
		}
		seen[key] = keyLine
		v, err := c.convert(n.Content[i+1], joinKey(path, key), depth+1)
		if err != nil {
			return nil, err
		}
		out.entries = append(out.entries, entry{key: key, line: keyLine, val: v})
	}
	for _, m := range merges {
		srcs := []*yaml.Node{m}
		if um := unalias(m); um.Kind == yaml.SequenceNode {
			srcs = um.Content
		}
		for _, src := range srcs {
			v, err := c.convert(src, path, depth+1)
			if err != nil {
				return nil, err
			}
			if v.kind != kindMap {
				return nil, &KeyError{Key: joinKey(path, "<<"), Line: v.line, Err: errors.New("want a mapping or a list of mappings to merge")}
			}
			for _, e := range v.entries {
				if _, dup := seen[e.key]; !dup {
					seen[e.key] = e.line
					out.entries = append(out.entries, e)
				}
			}
		}
	}
	return out, nil
}

// yamlScalar resolves a YAML scalar the way yaml.v3 does (so `0x10`, `1_000`
// and `1e3` are numbers), keeping the written text for string keys. A scalar
// that does not decode under its explicit tag (`!!int abc`) becomes
// kindOther; its text is not kept, since it might be a secret.
func yamlScalar(n *yaml.Node, line int) *node {
	out := &node{line: line, text: n.Value}
	switch tag := n.ShortTag(); tag {
	case nullTag:
		out.kind = kindNull
	case strTag:
		out.kind = kindString
	case boolTag:
		if n.Decode(&out.b) != nil {
			return malformed(tag, line)
		}
		out.kind = kindBool
	case intTag:
		var v any
		if n.Decode(&v) != nil {
			return malformed(tag, line)
		}
		out.kind, out.textOK = kindInt, true
		switch v := v.(type) {
		case int:
			out.i = int64(v)
		case int64:
			out.i = v
		case uint64:
			out.big = true
		default:
			return malformed(tag, line)
		}
	case floatTag:
		if n.Decode(&out.f) != nil {
			return malformed(tag, line)
		}
		out.kind, out.textOK = kindFloat, true
	case timestampTag:
		out.kind, out.textOK, out.desc = kindOther, true, "a timestamp"
	default:
		return &node{kind: kindOther, line: line, desc: "a value tagged " + tag}
	}
	return out
}

func malformed(tag string, line int) *node {
	return &node{kind: kindOther, line: line, desc: "a malformed " + tag + " value"}
}

// fromSettings converts a settings map into the common tree. Dotted keys
// ("database.driver") are split and merged with nested maps; a key given
// both ways is a duplicate. Keys are handled in sorted order so that the
// error a map gives does not depend on map iteration order.
func fromSettings(m map[string]any) (*node, error) {
	root := &node{kind: kindMap}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	budget := maxNodes
	for _, k := range keys {
		v, err := fromGo(reflect.ValueOf(m[k]), k, 1, &budget)
		if err != nil {
			return nil, err
		}
		if err := insert(root, "", strings.Split(k, "."), v); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// insert puts v at the dotted path parts below parent.
func insert(parent *node, path string, parts []string, v *node) error {
	key := joinKey(path, parts[0])
	e := parent.lookup(parts[0])
	if len(parts) == 1 {
		if e == nil {
			parent.entries = append(parent.entries, entry{key: parts[0], val: v})
			return nil
		}
		if e.val.kind != kindMap || v.kind != kindMap {
			return &KeyError{Key: key, Err: errors.New("given twice (nested and dotted)")}
		}
		for _, sub := range v.entries {
			if err := insert(e.val, key, []string{sub.key}, sub.val); err != nil {
				return err
			}
		}
		return nil
	}
	if e == nil {
		parent.entries = append(parent.entries, entry{key: parts[0], val: &node{kind: kindMap}})
		e = &parent.entries[len(parent.entries)-1]
	}
	if e.val.kind != kindMap {
		return &KeyError{Key: key, Err: fmt.Errorf("given both as a value and as the section of %q", joinKey(key, strings.Join(parts[1:], ".")))}
	}
	return insert(e.val, key, parts[1:], v)
}

var durationType = reflect.TypeFor[time.Duration]()

// fromGo converts one settings value.
func fromGo(v reflect.Value, path string, depth int, budget *int) (*node, error) {
	*budget--
	if *budget < 0 {
		return nil, &KeyError{Key: path, Err: fmt.Errorf("too many values (more than %d)", maxNodes)}
	}
	if depth > maxDepth {
		return nil, &KeyError{Key: path, Err: errors.New("nested too deeply")}
	}
	for v.IsValid() && v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if !v.IsValid() {
		return &node{kind: kindNull}, nil
	}
	if v.Type() == durationType {
		return &node{kind: kindDuration, d: time.Duration(v.Int())}, nil
	}
	switch v.Kind() {
	case reflect.String:
		// Named string types too, json.Number among them.
		return &node{kind: kindString, text: v.String()}, nil
	case reflect.Bool:
		return &node{kind: kindBool, b: v.Bool()}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &node{kind: kindInt, i: v.Int(), text: strconv.FormatInt(v.Int(), 10), textOK: true}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		return &node{kind: kindInt, i: int64(u), big: u > math.MaxInt64, text: strconv.FormatUint(u, 10), textOK: true}, nil
	case reflect.Float32, reflect.Float64:
		return &node{kind: kindFloat, f: v.Float(), text: strconv.FormatFloat(v.Float(), 'g', -1, 64), textOK: true}, nil
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			break // bytes are not a list of numbers here
		}
		out := &node{kind: kindList}
		for i := 0; i < v.Len(); i++ {
			item, err := fromGo(v.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1, budget)
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, item)
		}
		return out, nil
	case reflect.Map:
		return mapFromGo(v, path, depth, budget)
	}
	return &node{kind: kindOther, desc: fmt.Sprintf("a value of type %s", v.Type())}, nil
}

func mapFromGo(v reflect.Value, path string, depth int, budget *int) (*node, error) {
	type kv struct {
		key string
		val reflect.Value
	}
	pairs := make([]kv, 0, v.Len())
	iter := v.MapRange()
	for iter.Next() {
		k := iter.Key()
		for k.Kind() == reflect.Interface && !k.IsNil() {
			k = k.Elem()
		}
		if k.Kind() != reflect.String {
			return nil, &KeyError{Key: path, Err: fmt.Errorf("want string keys, found a key of type %s", k.Type())}
		}
		pairs = append(pairs, kv{k.String(), iter.Value()})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].key < pairs[j].key })
	out := &node{kind: kindMap}
	for i, p := range pairs {
		if i > 0 && pairs[i-1].key == p.key {
			// Two distinct keys of a map[any]any can spell the same name.
			return nil, &KeyError{Key: joinKey(path, p.key), Err: errors.New("duplicate key")}
		}
		val, err := fromGo(p.val, joinKey(path, p.key), depth+1, budget)
		if err != nil {
			return nil, err
		}
		out.entries = append(out.entries, entry{key: p.key, val: val})
	}
	return out, nil
}
