package memory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
)

// TestChurn drives one store through growth, overwrites, removals (which
// leave tombstones) and shrinking, checking every key against a plain map
// after each round, through Get, GetMany and Scan.
func TestChurn(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	want := map[string]string{}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(round int) {
		t.Helper()
		for i := 0; i < 6000; i++ {
			k := "k" + strconv.Itoa(i)
			e, ok, err := s.Get(ctx, k)
			w, wok := want[k]
			if err != nil || ok != wok || ok && !e.Value.Equal(entry(w).Value) {
				t.Fatalf("round %d: Get(%q) = %s, %v, %v; want %q, %v", round, k, e.Value.JSON(), ok, err, w, wok)
			}
		}
		n := 0
		s.Scan(ctx, "", "", func(k string, e driver.Entry) bool {
			if w, ok := want[k]; !ok || !e.Value.Equal(entry(w).Value) {
				t.Fatalf("round %d: Scan found %q = %s, want %q, %v", round, k, e.Value.JSON(), w, ok)
			}
			n++
			return true
		})
		if n != len(want) {
			t.Fatalf("round %d: Scan found %d keys, want %d", round, n, len(want))
		}
		got := 0
		keys := []string{"k1", "k2", "k3", "k4000", "k5999", "nope"}
		s.GetMany(ctx, keys, func(k string, e driver.Entry) {
			got++
			if !e.Value.Equal(entry(want[k]).Value) {
				t.Fatalf("round %d: GetMany(%q) = %s, want %q", round, k, e.Value.JSON(), want[k])
			}
		})
		exp := 0
		for _, k := range keys {
			if _, ok := want[k]; ok {
				exp++
			}
		}
		if got != exp {
			t.Fatalf("round %d: GetMany found %d keys, want %d", round, got, exp)
		}
	}
	for round := 0; round < 12; round++ {
		// Rounds 0-5 mostly add, 6-10 mostly remove, 11 removes all.
		for i := 0; i < 3000; i++ {
			k := "k" + strconv.Itoa(rng.IntN(6000))
			del := rng.IntN(10) < 3
			if round >= 6 {
				del = rng.IntN(10) < 8
			}
			if round == 11 {
				del = true
			}
			v := fmt.Sprint(round, i)
			var err error
			if i%7 == 0 { // sometimes a batch of two, to take the batch path
				k2 := "k" + strconv.Itoa(rng.IntN(6000))
				if k2 == k {
					continue
				}
				a, b := min(k, k2), max(k, k2)
				err = s.Apply(ctx, []driver.Write{{Key: a, Entry: entry(v), Delete: del}, {Key: b, Entry: entry(v)}})
				if del {
					delete(want, a)
				} else {
					want[a] = v
				}
				want[b] = v
			} else {
				err = s.Apply(ctx, []driver.Write{{Key: k, Entry: entry(v), Delete: del}})
				if del {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if round == 11 {
			for k := range want {
				s.Apply(ctx, []driver.Write{{Key: k, Delete: true}})
				delete(want, k)
			}
		}
		check(round)
	}
}

// TestReadersNeverSeeHalfABatch: batches write one rising number to keys
// spread over many shards, while readers read the keys one Get at a time
// and with GetMany. A Get that follows another Get in the same goroutine
// may never see an older batch (each batch is one instant), and GetMany sees
// one batch whole.
func TestReadersNeverSeeHalfABatch(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%02d", i)
	}
	batch := func(n int) []driver.Write {
		ws := make([]driver.Write, len(keys))
		for i, k := range keys {
			ws[i] = driver.Write{Key: k, Entry: entry(strconv.Itoa(n))}
		}
		return ws
	}
	if err := s.Apply(ctx, batch(0)); err != nil {
		t.Fatal(err)
	}
	value := func(e driver.Entry) int {
		x, _ := e.Value.Decode()
		n, _ := strconv.Atoi(x.(string))
		return n
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				last := 0
				for _, k := range keys {
					e, ok, _ := s.Get(ctx, k)
					if !ok {
						errs <- fmt.Errorf("Get(%q) found nothing", k)
						return
					}
					if n := value(e); n < last {
						errs <- fmt.Errorf("Get(%q) = %d after a Get saw batch %d", k, n, last)
						return
					} else {
						last = n
					}
				}
				seen := map[int]int{}
				s.GetMany(ctx, keys, func(_ string, e driver.Entry) { seen[value(e)]++ })
				if len(seen) != 1 {
					errs <- fmt.Errorf("GetMany saw parts of batches %v", seen)
					return
				}
			}
		}()
	}
	for n := 1; n <= 1000; n++ {
		if err := s.Apply(ctx, batch(n)); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestGetManyIsOneInstant: single writes alternate between two keys, A then
// B, with a rising number, so at every instant A == B or A == B+1. GetMany
// must see one of those states, never A behind B.
func TestGetManyIsOneInstant(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	keys := []string{"a", "b"}
	for _, k := range keys {
		s.Apply(ctx, []driver.Write{{Key: k, Entry: entry("0")}})
	}
	var done atomic.Bool
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for !done.Load() {
			got := map[string]int{}
			s.GetMany(ctx, keys, func(k string, e driver.Entry) {
				x, _ := e.Value.Decode()
				got[k], _ = strconv.Atoi(x.(string))
			})
			if a, b := got["a"], got["b"]; a != b && a != b+1 {
				errs <- fmt.Errorf("GetMany saw a=%d b=%d", a, b)
				return
			}
		}
	}()
	for i := 1; i <= 20000; i++ {
		for _, k := range keys {
			if err := s.Apply(ctx, []driver.Write{{Key: k, Entry: entry(strconv.Itoa(i))}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	done.Store(true)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// TestReadersDuringRebuilds: while one goroutine adds and removes thousands
// of keys (so tables grow, fill with tombstones, are rebuilt and shrink) and
// another overwrites a few stable keys with rising numbers, readers must
// always find the stable keys, and never see one go back to an older number.
func TestReadersDuringRebuilds(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	stable := make([]string, 64)
	for i := range stable {
		stable[i] = fmt.Sprintf("stable:%02d", i)
		s.Apply(ctx, []driver.Write{{Key: stable[i], Entry: entry("0")}})
	}
	var done atomic.Bool
	var rounds atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Add(1)
	go func() { // churn
		defer wg.Done()
		for ; !done.Load(); rounds.Add(1) {
			for i := 0; i < 5000; i++ {
				s.Apply(ctx, []driver.Write{{Key: fmt.Sprintf("churn:%d", i), Entry: entry("x")}})
			}
			for i := 0; i < 5000; i++ {
				s.Apply(ctx, []driver.Write{{Key: fmt.Sprintf("churn:%d", i), Delete: true}})
			}
		}
	}()
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := make([]int, len(stable))
			for !done.Load() {
				for i, k := range stable {
					e, ok, _ := s.Get(ctx, k)
					if !ok {
						errs <- fmt.Errorf("Get(%q) found nothing", k)
						return
					}
					x, _ := e.Value.Decode()
					n, _ := strconv.Atoi(x.(string))
					if n < last[i] {
						errs <- fmt.Errorf("Get(%q) = %d after %d", k, n, last[i])
						return
					}
					last[i] = n
				}
			}
		}()
	}
	for n := 1; n <= 300 || rounds.Load() < 3; n++ {
		for _, k := range stable {
			s.Apply(ctx, []driver.Write{{Key: k, Entry: entry(strconv.Itoa(n))}})
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestReadersNeverSeeATornEntry: a writer overwrites one key in place, over
// and over, with entries whose every word differs from the last (the
// value's kind, type and data, and the deadline), while readers check that
// what they get is one write whole: the deadline names the write, and the
// value must be the one that write stored. A reader that mixed the words of
// two writes would fail here, or crash on a value whose type and data do
// not belong together.
func TestReadersNeverSeeATornEntry(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	const base = int64(1) << 42 // deadlines far in the future
	write := func(i int64) driver.Entry {
		var x any
		switch i % 3 {
		case 0:
			x = "s" + strconv.FormatInt(i, 10)
		case 1:
			x = i
		case 2:
			x = []byte("b" + strconv.FormatInt(i, 10))
		}
		v, err := driver.EncodeValue(x)
		if err != nil {
			t.Fatal(err)
		}
		return driver.Entry{Value: v, Expires: base + i}
	}
	if err := s.ApplyOne(ctx, driver.Write{Key: "k", Entry: write(0)}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 3 {
		wg.Go(func() {
			for !stop.Load() {
				e, ok, _ := s.Get(ctx, "k")
				if !ok {
					t.Error("the key vanished")
					return
				}
				i := e.Expires - base
				if want := write(i); !e.Value.Equal(want.Value) {
					t.Errorf("read %s with the deadline of write %d, which stored %s", e.Value.JSON(), i, want.Value.JSON())
					return
				}
				reads.Add(1)
			}
		})
	}
	for i := int64(1); reads.Load() < 200_000 && !t.Failed(); i++ {
		if err := s.ApplyOne(ctx, driver.Write{Key: "k", Entry: write(i)}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
}
