//go:build tools

// Package tools pins Dex v2.45.1 for the test suite. Dex's own go.mod has a
// replace directive, so `go install` refuses it; this wrapper module builds it.
package tools

import _ "github.com/dexidp/dex/cmd/dex"
