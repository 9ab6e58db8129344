package storagetest_test

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/storagetest"
)

// newFileStore opens a fresh file store in a directory of the test's own,
// so that subtests running in parallel never share keys.
func newFileStore(t *testing.T) foxstore.StoragePlugin {
	s, err := foxstore.Open(t.Context(), foxstore.Config{
		Backend:  "file",
		FilePath: filepath.Join(t.TempDir(), "store.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.(io.Closer).Close() })
	return s
}

// A backend's test file holds one test that hands Run a function opening a
// fresh store:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, newFileStore)
//	}
//
// Run fails the test, with one subtest per rule of the contract, wherever
// the backend departs from CONTRACT.md.
func Example() {
	conformance := func(t *testing.T) {
		storagetest.Run(t, newFileStore)
	}
	_ = conformance
}
