#!/usr/bin/env bash
# Installs what is missing, builds the console and serves it on the embedded PostgreSQL with demo
# data (or on DATABASE_URL when set). Idempotent: a second run reuses the cluster and its data.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

scripts/setup.sh
printf '\033[1m==> building the console (release)\033[0m\n' >&2
cargo leptos build --release
exec env LEPTOS_SITE_ROOT=target/site target/release/rustcare-partitions serve "$@"
