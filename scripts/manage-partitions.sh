#!/usr/bin/env bash
# Partition manager (the guide's scripts/manage-partitions.sh): a thin wrapper over
# `rustcare-partitions`, arguments passed through unchanged. Commands: status | create [--days N] |
# cleanup [--dry-run|--force] | maintenance [--dry-run|--force] | migrate | rollback; options
# --table TABLE, --format text|json, --config PATH, --actor NAME. `--help` lists everything.
# Exit codes: 0 done, 1 some actions not done (see output), 2 usage/config error (nothing run).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rustcare-bin.sh"
exec "$bin" "$@"
