# Sourced by manage-partitions.sh and monitor-partitions.sh: sets $bin to the rustcare-partitions
# binary, building it first when sources changed (cargo is a no-op otherwise). Works from any cwd
# and from cron's bare environment. The caller's cwd is kept, so relative paths given as arguments
# (`metrics ./m.prom`, `--config ./my.conf`) mean what the user meant; RUSTCARE_HOME tells the
# binary where the project (config/, .data/) is.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export RUSTCARE_HOME="${RUSTCARE_HOME:-$root}"
export PATH="${HOME:-/root}/.cargo/bin:/usr/local/bin:/usr/bin:/bin:$PATH"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${RUSTCARE_BIN:-$target_dir/release/rustcare-partitions}"
if [ -z "${RUSTCARE_BIN:-}" ] && command -v cargo >/dev/null 2>&1; then
  build_log="$(mktemp "${TMPDIR:-/tmp}/rustcare-build.XXXXXX")"
  # Quiet, so cron mails stay empty when nothing is wrong.
  if ! cargo build --manifest-path "$root/Cargo.toml" --release --quiet --locked \
      -p server --bin rustcare-partitions >"$build_log" 2>&1; then
    if [ -x "$bin" ]; then
      echo "warning: rebuilding rustcare-partitions failed; running the previous build" >&2
      tail -n 20 "$build_log" >&2
    else
      cat "$build_log" >&2
      rm -f "$build_log"
      echo "error: building rustcare-partitions failed (see above)" >&2
      exit 2
    fi
  fi
  rm -f "$build_log"
fi
if [ ! -x "$bin" ]; then
  echo "error: $bin is missing: build it with \`cargo build --release -p server\` (needs cargo on PATH; scripts/setup.sh installs it), or set RUSTCARE_BIN to the binary" >&2
  exit 2
fi
