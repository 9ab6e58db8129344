package torture_test

import (
	"testing"

	"github.com/foxstore/foxstore/torture"
)

func TestFile(t *testing.T) {
	t.Run("sync", func(t *testing.T) { workloads(t, newFile(false), torture.Options{}) })
	t.Run("async", func(t *testing.T) { workloads(t, newFile(true), torture.Options{}) })
}
