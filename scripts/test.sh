#!/usr/bin/env bash
# Runs every test: formatting and lints, the domain crate's wasm build, the Rust tests (each on a
# fresh database in a private test cluster), then the Playwright tests in Debian's Chromium against
# a freshly built console. Installs what is missing first. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

scripts/setup.sh --test

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "partitioning builds for wasm32 without its postgres feature"
cargo build -p partitioning --target wasm32-unknown-unknown --locked
step "Rust tests (fresh database per test)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
step "building the console for the browser tests"
cargo leptos build
step "browser tests (Playwright in Chromium)"
scripts/e2e.sh
