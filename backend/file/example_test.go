package file_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/foxstore/foxstore"
)

// A file store is opened through foxstore like any other; this one is
// backed up while open and restored by opening the copy.
func Example() {
	dir, err := os.MkdirTemp("", "foxstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := foxstore.Open(ctx, foxstore.Config{
		Backend:  "file",
		FilePath: filepath.Join(dir, "storage.json"),
	})
	if err != nil {
		log.Fatal(err)
	}
	// Set returns once the write is on disk.
	if err := s.Set(ctx, "user:1", "alice", 0); err != nil {
		log.Fatal(err)
	}
	var backup bytes.Buffer
	if err := foxstore.Backup(ctx, s, &backup); err != nil {
		log.Fatal(err)
	}
	s.(io.Closer).Close()

	restored := filepath.Join(dir, "restored.json")
	if err := os.WriteFile(restored, backup.Bytes(), 0o600); err != nil {
		log.Fatal(err)
	}
	c, err := foxstore.Open(ctx, foxstore.Config{Backend: "file", FilePath: restored})
	if err != nil {
		log.Fatal(err)
	}
	defer c.(io.Closer).Close()
	v, err := c.Get(ctx, "user:1")
	fmt.Println(v, err)
	// Output: alice <nil>
}
