package database_test

import (
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

func TestSmoke(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := t.Context()
		s := tg.open(t)
		if err := s.Set(ctx, "a", "x", 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, "b", 42, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.SetBatch(ctx, map[string]any{"c": 1.5, "d": []byte{0, 1}, "song:1": "x", "song:2": "y"}); err != nil {
			t.Fatal(err)
		}
		v, err := s.Get(ctx, "b")
		t.Logf("get b = %v %v", v, err)
		m, err := s.GetBatch(ctx, []string{"a", "b", "c", "zz", "d"})
		t.Logf("batch = %v %v", m, err)
		keys, err := s.Keys(ctx, "song:*")
		t.Logf("keys = %v %v", keys, err)
		keys, err = s.Keys(ctx, "*")
		t.Logf("keys = %v %v", keys, err)
		err = foxstore.Update(ctx, s, func(tx foxstore.Transaction) error {
			x, err := tx.Get("b")
			if err != nil {
				return err
			}
			return tx.Set("b", x.(int)+1)
		})
		v, err2 := s.Get(ctx, "b")
		t.Logf("update: %v; b = %v %v", err, v, err2)
		if err := s.DeleteBatch(ctx, []string{"a", "c", "nope"}); err != nil {
			t.Fatal(err)
		}
		n, err := s.Count(ctx, "*")
		t.Logf("count = %v %v", n, err)
		t.Logf("health = %+v", s.HealthCheck())
	})
}
