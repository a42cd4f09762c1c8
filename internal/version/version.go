// Package version reports the build's version, set by the Makefile through
// -ldflags -X, with the module build information as the fallback for
// `go install` builds.
package version

import "runtime/debug"

// Version is set with -ldflags "-X github.com/mayflyhq/mayfly/internal/version.Version=v1.2.3".
var Version = ""

// String returns the version, "devel" when nothing better is known.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
