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

// TestPostgresKeyLimit documents PostgreSQL's btree limit: a stored key
// over about 2,700 bytes that does not compress is refused with
// ErrStorageInvalid (a user key is at most 1,024 bytes; only deeply nested
// namespaces get there).
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
	defer s.db.ExecContext(t.Context(), "DROP TABLE "+s.d.table)
	defer s.db.ExecContext(t.Context(), "DELETE FROM foxstore_meta WHERE tbl = $1", s.table)
	defer s.Close(t.Context())
	v, _ := driver.EncodeValue("x")
	key := make([]byte, driver.MaxStoredKeyLen)
	rand.Read(key)
	ok := string(key[:2000])
	if err := s.Apply(t.Context(), []driver.Write{{Key: ok, Entry: driver.Entry{Value: v}}}); err != nil {
		t.Errorf("2,000-byte key: %v", err)
	}
	err = s.Apply(t.Context(), []driver.Write{{Key: string(key), Entry: driver.Entry{Value: v}}})
	if driver.CodeOf(err) != driver.CodeInvalid {
		t.Errorf("3,072-byte random key = %v, want code %d", err, driver.CodeInvalid)
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
