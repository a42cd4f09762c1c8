#!/usr/bin/env bash
# Installs what Mayfly's integration tests and demo run against, on a fresh
# Debian machine: git with git-http-backend, util-linux (setpriv), and Dex
# v2.45.1 built from the Go module proxy through the wrapper module in
# scripts/peers/dex (Dex's go.mod has a replace directive, so `go install`
# refuses it, and its master deadlocks on refresh with memory storage).
# Idempotent: what is already there is not rebuilt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PEERS_DIR=${MAYFLY_PEERS_DIR:-$(cd "$here/.." && pwd)/.cache/peers}
mkdir -p "$PEERS_DIR/bin"

need_apt=()
command -v git >/dev/null || need_apt+=(git)
[ -x /usr/lib/git-core/git-http-backend ] || need_apt+=(git)
command -v setpriv >/dev/null || need_apt+=(util-linux)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-peers: please install: ${need_apt[*]}" >&2
    exit 1
  fi
  echo "install-peers: apt-get install ${need_apt[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

dex="$PEERS_DIR/bin/dex-v2.45.1"
if [ ! -x "$dex" ]; then
  echo "install-peers: building Dex v2.45.1 (about 1-2 minutes on a cold cache)" >&2
  (cd "$here/peers/dex" && CGO_ENABLED=0 go build -trimpath -o "$dex.tmp" github.com/dexidp/dex/cmd/dex)
  mv "$dex.tmp" "$dex"
fi
ln -sf "$(basename "$dex")" "$PEERS_DIR/bin/dex"
echo "install-peers: ready in $PEERS_DIR/bin" >&2
