package config

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/foxstore/foxstore/driver"
)

// FuzzParse checks that no document makes Parse panic, that every failure
// is an invalid-config error, and that every success passes Validate.
// Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			if driver.CodeOf(err) != driver.CodeInvalid {
				t.Fatalf("Parse error without CodeInvalid: %v", err)
			}
			return
		}
		if err := Validate(cfg); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v\n%+v", err, cfg)
		}
		again, err := Parse(data)
		if err != nil || !reflect.DeepEqual(cfg, again) {
			t.Fatalf("Parse is not deterministic: %+v, %v", again, err)
		}
	})
}

// FuzzFromSettings feeds settings maps decoded from JSON, as a plugin host
// that reads them from a JSON file would pass them.
func FuzzFromSettings(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"backend":"file","cache_size":10,"cache_ttl":"2s","max_value_size":"1MiB"}`,
		`{"database.driver":"postgresql","database":{"table":"kv","max_open_conns":4}}`,
		`{"redis":{"addrs":["a:1","b:2"],"db":1.0,"password":"${HOME}"}}`,
		`{"namespace":12,"async_write":"yes","redis.addrs":"h:6379"}`,
		`{"cache_size":1e300,"backup_count":-1,"x":{"y":[1,{"z":null}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		if json.Unmarshal(data, &m) != nil {
			return
		}
		cfg, err := FromSettings(m)
		if err != nil {
			if driver.CodeOf(err) != driver.CodeInvalid {
				t.Fatalf("FromSettings error without CodeInvalid: %v", err)
			}
			return
		}
		if err := Validate(cfg); err != nil {
			t.Fatalf("FromSettings accepted a config that Validate rejects: %v\n%+v", err, cfg)
		}
	})
}
