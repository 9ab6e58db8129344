package foxstore

import (
	"context"
	"os"

	"github.com/foxstore/foxstore/driver"
	"github.com/foxstore/foxstore/internal/config"
)

// ParseConfig reads the YAML document data, whose root key is "storage".
// Other root keys are ignored, so the storage section can live in a larger
// application config. Unknown keys under "storage", wrong types and bad
// values are ErrStorageInvalid errors that name the key and the line.
func ParseConfig(yaml []byte) (Config, error) {
	return config.Parse(yaml)
}

// LoadConfig reads and parses the YAML file at path.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, &Error{Op: "load config", Code: CodeInvalid, Err: err}
	}
	return config.Parse(data)
}

var _ = driver.Lookup
var _ context.Context
