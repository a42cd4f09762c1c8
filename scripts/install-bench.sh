#!/usr/bin/env bash
# Installs what `make bench` measures Mayfly against, on a fresh Debian
# machine (the test peers themselves come from scripts/install-peers.sh):
#   - hyperfine, from apt;
#   - docker-credential-secretservice and docker-credential-pass, built from
#     github.com/docker/docker-credential-helpers at a pinned version
#     (secretservice is cgo over libsecret-1-dev; pass runs `pass`, which
#     runs gpg), with gnome-keyring and pass + gnupg from apt to run them.
# git's credential-cache comes with git. The static Go hello-world and the
# concurrency driver are built by scripts/bench itself.
# Idempotent: what is already there is not rebuilt. A baseline that cannot be
# built is reported (exit 0): the bench table says so instead of faking it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PEERS_DIR=${MAYFLY_PEERS_DIR:-$(cd "$here/.." && pwd)/.cache/peers}
DCH_VERSION=v0.9.13 # github.com/docker/docker-credential-helpers
mkdir -p "$PEERS_DIR/bin"

need_apt=()
command -v hyperfine >/dev/null || need_apt+=(hyperfine)
command -v pass >/dev/null || need_apt+=(pass)
command -v gpg >/dev/null || need_apt+=(gnupg)
command -v gcc >/dev/null || need_apt+=(gcc libc6-dev)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
pkg-config --exists libsecret-1 2>/dev/null || need_apt+=(libsecret-1-dev)
command -v gnome-keyring-daemon >/dev/null || need_apt+=(gnome-keyring)
command -v dbus-daemon >/dev/null || need_apt+=(dbus)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-bench: please install: ${need_apt[*]}" >&2
    exit 1
  fi
  echo "install-bench: apt-get install ${need_apt[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# build NAME PACKAGE CGO: go install at the pinned version into a versioned
# name plus a plain symlink. The main packages are all called "cmd".
build() {
  local name=$1 pkg=$2 cgo=$3 out="$PEERS_DIR/bin/$1-$DCH_VERSION"
  if [ ! -x "$out" ]; then
    echo "install-bench: building $name $DCH_VERSION" >&2
    local tmp; tmp=$(mktemp -d)
    if GOBIN="$tmp" CGO_ENABLED=$cgo go install -trimpath -ldflags '-s -w' "$pkg@$DCH_VERSION" >"$tmp/log" 2>&1; then
      mv "$tmp/cmd" "$out"
    else
      echo "install-bench: warning: $name does not build here; the bench table will say so:" >&2
      tail -5 "$tmp/log" >&2
    fi
    rm -rf "$tmp"
  fi
  [ -x "$out" ] && ln -sf "$(basename "$out")" "$PEERS_DIR/bin/$name"
  return 0
}
build docker-credential-secretservice github.com/docker/docker-credential-helpers/secretservice/cmd 1
build docker-credential-pass github.com/docker/docker-credential-helpers/pass/cmd 0
echo "install-bench: ready in $PEERS_DIR/bin" >&2
