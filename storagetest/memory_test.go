package storagetest

import (
	"io"
	"testing"

	"github.com/foxstore/foxstore"
)

// TestMemory runs the suite against the memory backend, the default of
// foxstore.Open.
func TestMemory(t *testing.T) {
	Run(t, func(t *testing.T) foxstore.StoragePlugin {
		s, err := foxstore.Open(t.Context(), foxstore.Config{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if c, ok := s.(io.Closer); ok {
				c.Close()
			}
		})
		return s
	})
}
