// Package e2e holds Mayfly's end-to-end tests: the built binaries, run as a
// user would run them, against real peers (Dex as the OpenID provider, git
// and git-http-backend, the kernel keyring). It has no code of its own.
//
// The tests need the binaries (MAYFLY_BIN_DIR, else they are built) and Dex
// (scripts/install-peers.sh). Without Dex they skip, unless
// MAYFLY_REQUIRE_PEERS=1, as under `make test`, makes that a failure.
package e2e
