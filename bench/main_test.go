package bench

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	removeOpenFixture()
	os.Exit(code)
}
