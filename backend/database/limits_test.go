package database

import (
	"bytes"
	"crypto/rand"
	"os"
	"testing"

	"github.com/foxstore/foxstore/driver"
)

// TestMySQLPacketLimit checks what happens when the server's
// max_allowed_packet is below max_value_size: larger values are refused
// with ErrStorageInvalid before anything is sent, smaller ones still work.
// The limit is simulated: the test must not change the server's settings.
func TestMySQLPacketLimit(t *testing.T) {
	dsn := os.Getenv("FOXSTORE_TEST_MYSQL")
	if dsn == "" {
		t.Skip("set FOXSTORE_TEST_MYSQL to a mysql DSN to run this test")
	}
	cfg := driver.DefaultConfig()
	cfg.Database = driver.DatabaseConfig{Driver: "mysql", DSN: dsn, Table: "fxt_packet_" + randHex(t)}
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.db.ExecContext(t.Context(), "DROP TABLE "+s.d.table)
	defer s.db.ExecContext(t.Context(), "DELETE FROM foxstore_meta WHERE tbl = ?", s.table)
	defer s.Close(t.Context())
	s.maxValue = 1000
	big, _ := driver.EncodeValue(bytes.Repeat([]byte{1}, 1000))
	small, _ := driver.EncodeValue("ok")
	err = s.Apply(t.Context(), []driver.Write{{Key: "a", Entry: driver.Entry{Value: small}}, {Key: "b", Entry: driver.Entry{Value: big}}})
	if driver.CodeOf(err) != driver.CodeInvalid {
		t.Fatalf("Apply of a value over max_allowed_packet = %v, want code %d", err, driver.CodeInvalid)
	}
	if _, ok, err := s.Get(t.Context(), "a"); ok || err != nil {
		t.Errorf("a refused batch wrote something: ok=%v err=%v", ok, err)
	}
	if err := s.Apply(t.Context(), []driver.Write{{Key: "a", Entry: driver.Entry{Value: small}}}); err != nil {
		t.Errorf("Apply of a small value: %v", err)
	}
}

// TestPostgresKeyLimit checks PostgreSQL's btree limit against the keys
// foxstore sends: a stored key of driver.MaxStoredKeyLen random bytes (the
// longest a namespace view makes) is accepted, and a longer one that does
// not compress, over the btree entry limit (about 2,700 bytes), is refused
// with ErrStorageInvalid, not a write failure.
func TestPostgresKeyLimit(t *testing.T) {
	dsn := os.Getenv("FOXSTORE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("set FOXSTORE_TEST_POSTGRES to a postgres DSN to run this test")
	}
	cfg := driver.DefaultConfig()
	cfg.Database = driver.DatabaseConfig{Driver: "postgres", DSN: dsn, Table: "fxt_keys_" + randHex(t)}
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Deferred calls run last first: the table goes while the pool is open.
	defer s.Close(t.Context())
	defer s.db.ExecContext(t.Context(), "DROP TABLE "+s.d.table)
	defer s.db.ExecContext(t.Context(), "DELETE FROM foxstore_meta WHERE tbl = $1", s.table)
	v, _ := driver.EncodeValue("x")
	key := make([]byte, 3072)
	rand.Read(key)
	longest := string(key[:driver.MaxStoredKeyLen])
	for _, ws := range [][]driver.Write{
		{{Key: longest, Entry: driver.Entry{Value: v}}},                                       // one write: the pipelined transaction
		{{Key: longest[1:], Entry: driver.Entry{Value: v}}, {Key: longest[2:], Delete: true}}, // a batch: unnest, = ANY
	} {
		if err := s.Apply(t.Context(), ws); err != nil {
			t.Errorf("%d-byte key: %v", len(ws[0].Key), err)
		}
	}
	if _, ok, err := s.Get(t.Context(), longest); !ok || err != nil {
		t.Errorf("Get of the %d-byte key: ok=%v err=%v", len(longest), ok, err)
	}
	for _, ws := range [][]driver.Write{
		{{Key: string(key), Entry: driver.Entry{Value: v}}},
		{{Key: string(key), Entry: driver.Entry{Value: v}}, {Key: "other", Entry: driver.Entry{Value: v}}},
	} {
		err = s.Apply(t.Context(), ws)
		if driver.CodeOf(err) != driver.CodeInvalid {
			t.Errorf("%d-byte random key in a batch of %d = %v, want code %d", len(key), len(ws), err, driver.CodeInvalid)
		}
	}
}

func randHex(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 12)
	for _, c := range b {
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}
