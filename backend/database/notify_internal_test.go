package database

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

func TestPackPayloads(t *testing.T) {
	const limit = 7999
	keySet := func(n, size int) map[string]struct{} {
		m := map[string]struct{}{}
		for i := range n {
			k := fmt.Sprintf("%0*d", size, i)
			m[k] = struct{}{}
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		keys     map[string]struct{}
		payloads int // -1: too many to name
	}{
		{"one", keySet(1, 10), 1},
		{"odd bytes", map[string]struct{}{"\xff\x00a\x00b": {}, "\xc3(": {}, ",*": {}}, 1},
		{"exactly one payload", keySet(limit/81, 60), 1}, // 80 base64 bytes and a comma each
		{"two payloads", keySet(limit/81+1, 60), 2},
		{"longest key", keySet(1, 2600), 1},
		{"most payloads", keySet(maxNotifyPayloads*(limit/81), 60), maxNotifyPayloads},
		{"too many", keySet(maxNotifyPayloads*(limit/81)+1, 60), -1},
		{"key over the limit", keySet(1, limit), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pack(tc.keys, limit)
			if tc.payloads < 0 {
				if got != nil {
					t.Fatalf("%d payloads, want nil (too many keys to name)", len(got))
				}
				return
			}
			if len(got) != tc.payloads {
				t.Fatalf("%d payloads, want %d", len(got), tc.payloads)
			}
			var back []string
			for _, p := range got {
				if len(p) > limit {
					t.Fatalf("payload of %d bytes, limit %d", len(p), limit)
				}
				back = append(back, decodePayload(p)...)
			}
			var want []string
			for k := range tc.keys {
				want = append(want, k)
			}
			slices.Sort(back)
			slices.Sort(want)
			if !slices.Equal(back, want) {
				t.Fatalf("decoded keys differ from the packed ones")
			}
		})
	}
}

func TestDecodePayload(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		payload string
		want    []string // nil: everything
	}{
		{"*", nil},
		{"", nil}, // a bare NOTIFY on the channel
		{enc([]byte("a")) + "," + enc([]byte("\xff\x00b")), []string{"a", "\xff\x00b"}},
		{"not base64!", nil},
		{enc([]byte("a")) + ",", nil}, // an empty key is no foxstore key
		{"{\"v\":2}", nil},            // a later format this code cannot read
	} {
		got := decodePayload(tc.payload)
		if (got == nil) != (tc.want == nil) || !slices.Equal(got, tc.want) {
			t.Errorf("decodePayload(%q) = %q, want %q", tc.payload, got, tc.want)
		}
	}
}

func TestChannelName(t *testing.T) {
	if got := channelName("public", "foxstore_kv", 63); got != "foxstore:public.foxstore_kv" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("t", 63)
	a, b := channelName("public", long, 63), channelName("other", long, 63)
	if len(a) > 63 || len(b) > 63 || a == b {
		t.Errorf("long names: %q and %q", a, b)
	}
}

// BenchmarkAnnounce measures what announcing writes costs the writers on
// PostgreSQL, while another store listens: each iteration runs a round of
// single Sets from 8 goroutines without announcements and a round with
// them, in turns, so that both sides see the same server, and reports
// each side's time per write and their ratio.
//
//	go test -run '^$' -bench Announce -benchtime 100x -count 6 ./backend/database
func BenchmarkAnnounce(b *testing.B) {
	dsn := os.Getenv("FOXSTORE_TEST_POSTGRES")
	if dsn == "" {
		b.Skip("set FOXSTORE_TEST_POSTGRES to a postgres DSN to run this benchmark")
	}
	ctx := context.Background()
	cfg := driver.DefaultConfig()
	cfg.Database = driver.DatabaseConfig{Driver: "postgres", DSN: dsn, Table: fmt.Sprintf("fxt_announce_%x", rand.Uint64())}
	s, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	// Deferred after Close, so that they run before it, on an open pool.
	defer s.db.ExecContext(ctx, "DELETE FROM foxstore_meta WHERE tbl = $1", s.table)
	defer s.db.ExecContext(ctx, "DROP TABLE "+s.d.table)
	l, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(ctx)
	stop := make(chan struct{})
	defer close(stop)
	if err := l.Watch(stop, func([]string) {}); err != nil {
		b.Fatal(err)
	}
	v, _ := driver.EncodeValue("a value of some thirty bytes..")
	announcer := s.notify
	defer func() { s.notify = announcer }()

	const writers, each = 8, 8
	var spent [2]time.Duration
	round := func(announce int) {
		s.notify = nil
		if announce == 1 {
			s.notify = announcer
		}
		start := time.Now()
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range each {
					w := driver.Write{Key: fmt.Sprintf("k%d", rand.N(100000)), Entry: driver.Entry{Value: v}}
					if err := s.Apply(ctx, []driver.Write{w}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		spent[announce] += time.Since(start)
	}
	b.ResetTimer()
	for i := range b.N {
		round(i % 2)
		round(1 - i%2)
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*writers*each) }
	b.ReportMetric(per(spent[0]), "ns/write")
	b.ReportMetric(per(spent[1]), "ns/announced-write")
	b.ReportMetric(per(spent[1])/per(spent[0]), "announced/plain")
	b.ReportMetric(0, "ns/op")
}
