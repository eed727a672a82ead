#!/usr/bin/env bash
# usage: .ci/stop-radosgw.sh STATE_DIR -- stops radosgw, then the OSD, then the
# monitor started by start-radosgw.sh (clients before the cluster they need, so
# none hangs on shutdown). Safe to run twice or after a failed start.
set -euo pipefail
STATE=${1:?usage: stop-radosgw.sh STATE_DIR}
# shellcheck source=.ci/lib.sh
. "$(dirname "$0")/lib.sh"
for daemon in rgw osd mon; do
  stop_pidfile "$STATE/radosgw/$daemon.pid"
done
