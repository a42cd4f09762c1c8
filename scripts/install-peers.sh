#!/usr/bin/env bash
# Installs what Mayfly's integration tests and demo run against, on a fresh
# Debian machine: git with git-http-backend, util-linux (setpriv), skopeo
# and the docker CLI from apt; Dex v2.45.1 built from the Go module proxy
# through the wrapper module in scripts/peers/dex (Dex's go.mod has a replace
# directive, so `go install` refuses it, and its master deadlocks on refresh
# with memory storage); the distribution registry v3.1.2 and crane v0.22.1
# with `go install`; zitadel/oidc v3.52.0's example OP (token exchange) through
# scripts/peers/zitadel-op; panva's oidc-provider 9.13.3 with npm; swtpm, the
# simulator's build deps and Node.js from apt.
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
command -v skopeo >/dev/null || need_apt+=(skopeo)
command -v docker >/dev/null || need_apt+=(docker.io) # only its CLI is used: no daemon
command -v dbus-daemon >/dev/null || need_apt+=(dbus)
command -v gnome-keyring-daemon >/dev/null || need_apt+=(gnome-keyring) # the Secret Service
command -v secret-tool >/dev/null || need_apt+=(libsecret-tools)
command -v swtpm >/dev/null || need_apt+=(swtpm)              # a software TPM 2.0 (libtpms)
command -v swtpm_setup >/dev/null || need_apt+=(swtpm-tools)  # manufactures its state, EK cert
[ -e /usr/include/openssl/evp.h ] || need_apt+=(libssl-dev)   # the go-tpm-tools simulator (cgo)
command -v gcc >/dev/null || need_apt+=(gcc)
command -v node >/dev/null || need_apt+=(nodejs)               # panva's oidc-provider
command -v npm >/dev/null || need_apt+=(npm)
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

# go install at a pinned version, into a versioned name plus a plain symlink.
goinstall() { # name module version
  local name=$1 mod=$2 ver=$3 out="$PEERS_DIR/bin/$1-$3"
  if [ ! -x "$out" ]; then
    echo "install-peers: building $name $ver" >&2
    local tmp; tmp=$(mktemp -d)
    GOBIN="$tmp" CGO_ENABLED=0 go install -trimpath "$mod@$ver"
    mv "$tmp/$(basename "$mod")" "$out"
    rm -rf "$tmp"
  fi
  ln -sf "$(basename "$out")" "$PEERS_DIR/bin/$name"
}
goinstall registry github.com/distribution/distribution/v3/cmd/registry v3.1.2
goinstall crane github.com/google/go-containerregistry/cmd/crane v0.22.1

# panva's oidc-provider 9.13.3 (scripts/peers/oidc-provider): `npm ci` from the
# pinned lock into $PEERS_DIR/oidc-provider, skipped when that exact lock is
# installed already (npm ci empties node_modules first, so the marker copy
# of the lock inside it survives only a complete install). server.mjs is
# copied every time: it is what the tests run.
op_src="$here/peers/oidc-provider" op="$PEERS_DIR/oidc-provider"
mkdir -p "$op"
if ! cmp -s "$op_src/package-lock.json" "$op/node_modules/.mayfly-installed-lock.json"; then
  echo "install-peers: npm ci oidc-provider 9.13.3" >&2
  cp "$op_src/package.json" "$op_src/package-lock.json" "$op/"
  (cd "$op" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$op_src/package-lock.json" "$op/node_modules/.mayfly-installed-lock.json"
fi
cp "$op_src/server.mjs" "$op/server.mjs.tmp" && mv "$op/server.mjs.tmp" "$op/server.mjs"

# The OpenID provider of zitadel/oidc v3.52.0's example, for token exchange
# (scripts/peers/zitadel-op: a wrapper module around the example's exported
# packages that registers Mayfly as a public client allowed to exchange).
# The binary's name carries the version and a hash of the wrapper's files,
# so editing them rebuilds it; internal/testpeers looks for that name.
zop_src="$here/peers/zitadel-op"
zop_hash=$(cat "$zop_src/go.mod" "$zop_src/go.sum" "$zop_src/main.go" | sha256sum | cut -c1-12)
zop="$PEERS_DIR/bin/zitadel-op-v3.52.0-$zop_hash"
if [ ! -x "$zop" ]; then
  echo "install-peers: building zitadel-op (zitadel/oidc v3.52.0)" >&2
  (cd "$zop_src" && CGO_ENABLED=0 go build -trimpath -o "$zop.tmp" .)
  mv "$zop.tmp" "$zop"
fi
ln -sf "$(basename "$zop")" "$PEERS_DIR/bin/zitadel-op"

for tool in kubectl cargo; do
  command -v "$tool" >/dev/null || echo "install-peers: warning: $tool not found; its end-to-end tests will fail under MAYFLY_REQUIRE_PEERS=1" >&2
done
echo "install-peers: ready in $PEERS_DIR/bin" >&2
