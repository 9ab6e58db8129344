package torture_test

import (
	"io"
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/torture"
)

func newMemory(t *testing.T) foxstore.StoragePlugin {
	s, err := foxstore.Open(t.Context(), foxstore.Config{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.(io.Closer).Close() })
	return s
}

func TestMemory(t *testing.T) {
	workloads(t, newMemory, torture.Options{})
}
