package dump

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/foxstore/foxstore"
)

func openMemory(t *testing.T) foxstore.Store {
	t.Helper()
	s, err := foxstore.Open(t.Context(), foxstore.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.(foxstore.Store).Close() })
	return s.(foxstore.Store)
}

// records is a Source over a slice.
type records []foxstore.Record

func (rs records) Each(ctx context.Context, fn func(foxstore.Record) error) error {
	for _, r := range rs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func TestCopyBetweenStores(t *testing.T) {
	ctx := t.Context()
	src, dst := openMemory(t), openMemory(t)
	now := time.Now()
	recs := sampleRecords(t)
	for i := range recs {
		if !recs[i].Expires.IsZero() {
			recs[i].Expires = now.Add(time.Duration(i) * time.Minute)
		}
	}
	if err := foxstore.Import(ctx, src, recs); err != nil {
		t.Fatal(err)
	}
	var progress []int
	rep, err := Copy(ctx, dst, Store{S: src}, CopyOptions{Batch: 5, Progress: func(n int) { progress = append(progress, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Read != len(recs) || rep.Written != len(recs) || rep.Batches != 5 || rep.Expired != 0 {
		t.Errorf("report %+v, want %d read and written in 5 batches", rep, len(recs))
	}
	if len(progress) != 5 || progress[4] != len(recs) {
		t.Errorf("progress calls %v", progress)
	}
	if n := rep.LiveAt(now); n != len(recs) {
		t.Errorf("LiveAt(now) = %d, want %d", n, len(recs))
	}
	if n := rep.LiveAt(now.Add(1000 * time.Hour)); n != len(recs)-2 {
		t.Errorf("LiveAt(far future) = %d, want %d (two records expire)", n, len(recs)-2)
	}
	var got records
	if err := (Store{S: dst}).Each(ctx, func(r foxstore.Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]foxstore.Record{}
	for _, r := range recs {
		want[r.Key] = r
	}
	for _, r := range got {
		if !sameRecord(r, want[r.Key]) {
			t.Errorf("%q: copied %s %s %v, want %s %s %v", r.Key, r.Value.Type(), r.Value.JSON(), r.Expires,
				want[r.Key].Value.Type(), want[r.Key].Value.JSON(), want[r.Key].Expires)
		}
	}
	if len(got) != len(recs) {
		t.Errorf("destination holds %d keys, want %d", len(got), len(recs))
	}
}

func TestCopyDuplicatesExpiredInvalid(t *testing.T) {
	ctx := t.Context()
	dst := openMemory(t)
	src := records{
		{Key: "k", Value: mustValue(t, 1)},
		{Key: "gone", Value: mustValue(t, 1), Expires: time.Now().Add(-time.Second)},
		{Key: "k", Value: mustValue(t, "later")},
		{Key: "bad\xff", Value: mustValue(t, 1)},
		{Key: "ok", Value: mustValue(t, true)},
	}
	_, err := Copy(ctx, dst, src, CopyOptions{})
	var fe *foxstore.Error
	if !errors.As(err, &fe) || fe.Code != foxstore.CodeInvalid || fe.Key != "bad\xff" {
		t.Fatalf("without SkipInvalid: error %v, want an invalid-key error naming the key", err)
	}

	dst = openMemory(t)
	rep, err := Copy(ctx, dst, src, CopyOptions{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Read != 5 || rep.Written != 3 || rep.Expired != 1 || len(rep.Skipped) != 1 || rep.Skipped[0].Key != "bad\xff" {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(rep.Skipped[0].Reason, "UTF-8") {
		t.Errorf("skip reason %q does not say why", rep.Skipped[0].Reason)
	}
	if v, err := dst.Get(ctx, "k"); err != nil || v != "later" {
		t.Errorf(`Get("k") = %v, %v; want the later record "later"`, v, err)
	}
	if n, _ := dst.Count(ctx, "*"); n != 2 {
		t.Errorf("destination holds %d keys, want 2", n)
	}
}

func TestBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "musicfox.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(MusicfoxBucket))
		if err != nil {
			return err
		}
		for k, v := range map[string]string{
			"volume":        "55",
			"play_mode_int": "3",
			"cur_user":      `{"userId":123456789012345678,"nickname":"fox"}`,
			"blob":          "\x00\x01not json",
		} {
			if err := b.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		_, err = b.CreateBucket([]byte("nested"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	src := &Bolt{Path: path}
	if n, err := src.Count(t.Context()); err != nil || n != 4 {
		t.Fatalf("Count = %d, %v; want 4", n, err)
	}
	got := map[string]foxstore.Record{}
	if err := src.Each(t.Context(), func(r foxstore.Record) error { got[r.Key] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"volume":        {"json", "55"},
		"play_mode_int": {"json", "3"},
		"cur_user":      {"json", `{"userId":123456789012345678,"nickname":"fox"}`},
		"blob":          {"bytes", `"AAFub3QganNvbg=="`},
	}
	for k, w := range want {
		if r := got[k]; r.Value.Type() != w[0] || string(r.Value.JSON()) != w[1] {
			t.Errorf("%s: %s %s, want %s %s", k, r.Value.Type(), r.Value.JSON(), w[0], w[1])
		}
	}
	if len(src.Nested) != 1 || src.Nested[0] != "nested" {
		t.Errorf("Nested = %q, want [nested]", src.Nested)
	}

	err = (&Bolt{Path: path, Bucket: "missing"}).Each(t.Context(), func(foxstore.Record) error { return nil })
	if foxstore.CodeOf(err) != foxstore.CodeInvalid || !strings.Contains(err.Error(), `"default_bucket"`) {
		t.Errorf("missing bucket: %v, want an invalid error listing the buckets there are", err)
	}
	err = (&Bolt{Path: filepath.Join(t.TempDir(), "none.db")}).Each(t.Context(), func(foxstore.Record) error { return nil })
	if foxstore.CodeOf(err) != foxstore.CodeInvalid {
		t.Errorf("missing file: %v, want code %d", err, foxstore.CodeInvalid)
	}
}
