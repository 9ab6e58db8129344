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
	"github.com/foxstore/foxstore/backend/file"
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

// Verify checks a store's files without changing them, even while another
// process writes to it, and says what opening it would recover.
func ExampleVerify() {
	dir, err := os.MkdirTemp("", "foxstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	path := filepath.Join(dir, "storage.json")

	s, err := foxstore.Open(ctx, foxstore.Config{Backend: "file", FilePath: path})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.SetBatch(ctx, map[string]any{"user:1": "alice", "user:2": "bob"}); err != nil {
		log.Fatal(err)
	}
	s.(io.Closer).Close()

	rep, err := file.Verify(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range rep.Files {
		fmt.Println(filepath.Base(f.Path), f.Role, f.Status)
	}
	fmt.Println("damaged:", rep.Damaged, "opens:", rep.Recovery.Opens, "keys:", rep.Recovery.Keys)
	// Output:
	// storage.json snapshot ok
	// storage.json.log.0 log ok
	// damaged: false opens: true keys: 2
}
