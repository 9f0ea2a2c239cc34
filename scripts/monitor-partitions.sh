#!/usr/bin/env bash
# Partition monitor (the guide's scripts/monitor-partitions.sh): a thin wrapper over
# `rustcare-partitions monitor`, arguments passed through unchanged. Commands: status | health |
# performance | metrics [FILE] | tips. `health` exits 0 when healthy, 1 on a warning, 2 on a
# critical finding.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rustcare-bin.sh"
exec "$bin" monitor "$@"
