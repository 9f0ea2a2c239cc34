#!/usr/bin/env bash
# Installs whatever this project needs and is missing, skipping what is already there at the right
# version. Idempotent. Reaches only the crates, Debian and npm registries.
#   scripts/setup.sh          what the console needs (PostgreSQL, wasm toolchain, cargo-leptos)
#   scripts/setup.sh --test   also what the tests need (Chromium, Playwright, poppler)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "error: need root (or sudo) to run: $*" >&2; exit 1; fi; }

# --- Debian packages --------------------------------------------------------------------------
debs=(postgresql postgresql-15-cron postgresql-15-partman)
[ $want_test = 1 ] && debs+=(chromium poppler-utils prometheus)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian starts a system cluster on install; we never use it (the project runs its own).

# --- Rust toolchain pieces --------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# cargo-leptos 0.3.2 is the newest that builds on Rust 1.95 with --locked; no_downloads keeps it
# from fetching wasm-bindgen, wasm-opt and sass binaries from outside the registries.
if [ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos 0.3.2" ]; then
  say "installing cargo-leptos 0.3.2 (about 15 minutes, once)"
  cargo install cargo-leptos --version 0.3.2 --locked --features no_downloads
fi

# The wasm-bindgen CLI must be exactly the wasm-bindgen version in Cargo.lock.
wb=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wb" ]; then
  say "installing wasm-bindgen-cli $wb"
  # Not --locked: its lock names a webpki-roots release the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$wb" --force
fi

# Debian's binaryen (108) is too old for today's Rust output; npm's is current.
if ! wasm-opt --version 2>/dev/null | grep -q 'version 132'; then
  say "installing wasm-opt (binaryen 132) from npm"
  as_root npm install -g --silent binaryen@132.0.0
fi

# --- Browser tests ----------------------------------------------------------------------------
if [ $want_test = 1 ]; then
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules ]; then
    say "installing Playwright (npm; the browser is Debian's chromium)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
    touch end2end/node_modules
  fi
fi
