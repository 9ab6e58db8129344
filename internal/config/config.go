// Package config reads foxstore configuration from YAML and from plugin
// settings maps (CONTRACT §12).
package config

import (
	"errors"

	"github.com/foxstore/foxstore/driver"
)

// Parse reads the YAML document data (root key "storage").
func Parse(data []byte) (driver.Config, error) {
	return driver.Config{}, errors.New("TODO")
}

// FromSettings reads a PluginConfig.Settings map with the same keys as the YAML.
func FromSettings(m map[string]any) (driver.Config, error) {
	return driver.Config{}, errors.New("TODO")
}
