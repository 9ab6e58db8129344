package foxstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// Namespaced keys are stored as 0xFF + name + NUL + key. 0xFF never occurs
// in valid UTF-8 and NUL never in a key or a name, so the encoding is
// unambiguous (namespace "a" with key "b:y" and namespace "a:b" with key "y"
// stay apart), and a namespace's keys sort after every plain key at its
// level, which lets a scan of one level stop before the nested ones. A nested
// view appends another 0xFF + name + NUL.
func (s *store) view(ns string) *store {
	v := &store{c: s.c, ns: s.ns + "\xff" + ns + "\x00", nsErr: s.nsErr}
	if s.name != "" {
		v.name = s.name + "/" + ns
	} else {
		v.name = ns
	}
	if v.nsErr == nil {
		if err := checkKey(ns); err != nil {
			v.nsErr = fmt.Errorf("namespace: %w", err)
		} else if len(v.ns)+MaxKeyLen > driver.MaxStoredKeyLen {
			v.nsErr = errors.New("namespaces nested too deep: the prefix is too long")
		}
	}
	return v
}

func withNamespace(s StoragePlugin, ns string) StoragePlugin {
	if fs, ok := s.(*store); ok {
		return fs.view(ns)
	}
	return foreignView{s}
}

// foreignView is what WithNamespace makes of a StoragePlugin that foxstore
// did not create: foxstore cannot encode namespaced keys into another
// implementation safely, so every data method fails with ErrStorageInvalid.
// Lifecycle methods reach the wrapped store.
type foreignView struct{ Plugin }

var errForeign = errors.New("WithNamespace needs a store made by foxstore.Open or foxstore.New")

func (foreignView) fail(op string) error { return invalid(op, "", errForeign) }

func (v foreignView) Get(context.Context, string) (interface{}, error) { return nil, v.fail("get") }
func (v foreignView) Set(context.Context, string, interface{}, time.Duration) error {
	return v.fail("set")
}
func (v foreignView) Delete(context.Context, string) error { return v.fail("delete") }
func (v foreignView) Exists(context.Context, string) bool  { return false }
func (v foreignView) GetBatch(context.Context, []string) (map[string]interface{}, error) {
	return nil, v.fail("get batch")
}
func (v foreignView) SetBatch(context.Context, map[string]interface{}) error {
	return v.fail("set batch")
}
func (v foreignView) DeleteBatch(context.Context, []string) error { return v.fail("delete batch") }
func (v foreignView) Find(context.Context, string) (map[string]interface{}, error) {
	return nil, v.fail("find")
}
func (v foreignView) Count(context.Context, string) (int, error)     { return 0, v.fail("count") }
func (v foreignView) Keys(context.Context, string) ([]string, error) { return nil, v.fail("keys") }
func (v foreignView) BeginTransaction(context.Context) (Transaction, error) {
	return nil, v.fail("begin")
}
func (v foreignView) ClearCache(context.Context) error { return v.fail("clear cache") }
func (v foreignView) GetCacheStats(context.Context) (*CacheStats, error) {
	return nil, v.fail("cache stats")
}

// getInto decodes the value under key into out (a pointer).
func getInto(ctx context.Context, s StoragePlugin, key string, out any) error {
	if fs, ok := s.(*store); ok {
		v, err := fs.getValue(ctx, key)
		if err != nil {
			return err
		}
		if err := v.DecodeInto(out); err != nil {
			return invalid("get", key, fmt.Errorf("cannot decode %s value as %s: %w", v.Kind(), reflect.TypeOf(out).Elem(), err))
		}
		return nil
	}
	x, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	if reflect.TypeOf(x) == reflect.TypeOf(out).Elem() {
		reflect.ValueOf(out).Elem().Set(reflect.ValueOf(x))
		return nil
	}
	b, err := json.Marshal(x)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		return invalid("get", key, fmt.Errorf("cannot decode %T as %s: %w", x, reflect.TypeOf(out).Elem(), err))
	}
	return nil
}
