package memory_test

import (
	"testing"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/backendtest"
	"github.com/mayflyhq/mayfly/backends/memory"
)

var _ backendtest.Store = (*memory.Store)(nil)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backendtest.Store { return memory.New() })
}

func TestDescribe(t *testing.T) {
	d := memory.New().Describe()
	if d.Name != "memory" || d.Protection != backends.ProtectionMemory || d.Detail == "" {
		t.Errorf("Describe() = %+v, want name %q and protection %v", d, "memory", backends.ProtectionMemory)
	}
}
