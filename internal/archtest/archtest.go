// Package archtest holds no code, only tests that keep the repository's
// shape: every package has one doc comment, the protocol codecs import
// none of Mayfly's other packages, and the thin helpers link neither
// client-go, nor TPM code, nor an HTTP or OAuth stack, nor a secret store
// (the floors in the style guide). The dependency checks read
// `go list -deps -json` for Linux, macOS and Windows.
package archtest
