#!/usr/bin/env bash
# usage: .ci/stop-moto.sh STATE_DIR -- stops the moto started by start-moto.sh.
# Safe to run twice or when moto never started (the EXIT trap of .ci/run calls it).
set -euo pipefail
STATE=${1:?usage: stop-moto.sh STATE_DIR}
# shellcheck source=.ci/lib.sh
. "$(dirname "$0")/lib.sh"
stop_pidfile "$STATE/moto.pid"
