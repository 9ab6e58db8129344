package torture_test

import (
	"testing"

	"github.com/foxstore/foxstore/torture"
)

func TestRedis(t *testing.T) {
	serverEnv(t, envRedis, "a Redis address")
	workloads(t, newRedis, torture.Options{})
}
