package file

import (
	"path/filepath"
	"testing"
)

func TestReopen(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(map[bool]string{false: "sync", true: "async"}[async], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "storage.json")
			cfg := testConfig(path, nil)
			cfg.AsyncWrite = async
			s := mustOpen(t, cfg)
			mustApply(t, s, set("a", val(t, "x"), 0), set("b", val(t, 42), 0), set("\xffns\x00k", val(t, []byte{0, 1, 2}), 0))
			mustApply(t, s, del("a"), set("c", val(t, map[string]any{"n": 1.5}), 4102444800000))
			want := dump(t, s)
			mustClose(t, s)
			s = mustOpen(t, cfg)
			defer mustClose(t, s)
			if got := dump(t, s); got != want {
				t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
