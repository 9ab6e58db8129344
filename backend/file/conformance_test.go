package file_test

import (
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/storagetest"
)

func TestConformance(t *testing.T) {
	for _, async := range []bool{false, true} {
		name := "sync"
		if async {
			name = "async"
		}
		t.Run(name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
				s, err := foxstore.Open(t.Context(), foxstore.Config{
					Backend:       "file",
					FilePath:      filepath.Join(t.TempDir(), "store.json"),
					AsyncWrite:    async,
					FlushInterval: 20 * time.Millisecond,
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.(io.Closer).Close() })
				return s
			})
		})
	}
}
