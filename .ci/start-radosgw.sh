#!/usr/bin/env bash
# usage: .ci/start-radosgw.sh STATE_DIR
#
# Starts a throw-away single-node Ceph cluster on loopback and a radosgw (S3) in
# front of it, on free 127.0.0.1 ports. Why Ceph at all: it is the one local
# server that enforces what the others ignore (SSE-C, Content-MD5, payload hash,
# max-keys cap, Object Lock with versioning), see /work/shared/notes/s3-servers.md.
# Why a whole cluster: Debian bookworm's Ceph 16 (Pacific) has no dbstore backend,
# so radosgw needs RADOS: 1 ceph-mon, 1 ceph-osd on 'memstore' (data in RAM, no
# disk), cephx off (loopback only), pools of size 1.
# Needs: apt-get install --no-install-recommends radosgw ceph-mon ceph-osd uuid-runtime
#
# Writes STATE_DIR/radosgw/{ceph.conf,*.pid,log/} and STATE_DIR/radosgw.env (the
# KLOSET_TEST_RADOSGW_* variables of the test server matrix, see tests/support).
# Stop: .ci/stop-radosgw.sh STATE_DIR
set -euo pipefail
STATE=${1:?usage: start-radosgw.sh STATE_DIR}
# shellcheck source=.ci/lib.sh
. "$(dirname "$0")/lib.sh"
BASE=$STATE/radosgw
# A failed start stops whatever it already started: no stray daemons.
trap '[ $? = 0 ] || "$(dirname "$0")/stop-radosgw.sh" "$STATE"' EXIT
LOGS=$BASE/log
rm -rf "$BASE"
mkdir -p "$BASE"/{mon,osd,run} "$LOGS"
PORT=$(free_port)
MONPORT=$(free_port)
FSID=$(uuidgen)
# Fresh random keys each run: no test can pass by hard-coding them.
ACCESS_KEY=$(uuidgen | tr -d - | tr '[:lower:]' '[:upper:]' | cut -c1-20)
SECRET_KEY=$(uuidgen | tr -d -)$(uuidgen | tr -d - | cut -c1-8)
CONF=$BASE/ceph.conf
cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon_host = v1:127.0.0.1:$MONPORT
mon_initial_members = a
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
auth_allow_insecure_global_id_reclaim = true
ms_bind_ipv6 = false
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
run_dir = $BASE/run
admin_socket = $BASE/run/\$name.asok
log_file = $LOGS/\$name.log
log_to_stderr = false
err_to_stderr = true
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 2000
osd_crush_chooseleaf_type = 0
mon_data = $BASE/mon
osd_data = $BASE/osd
osd_objectstore = memstore
memstore_device_bytes = 4294967296
osd_memory_target = 939524096
# The OSD would register itself in the CRUSH map with a mon command sent right
# after it authenticates, often before its monitor client has the monmap: the
# mon then rejects it ("wrong fsid") and the OSD exits. The script places the
# OSD in CRUSH itself (ceph osd crush add) before starting it.
osd_crush_update_on_start = false
osd_class_update_on_start = false
[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:$PORT
rgw_dns_name = 127.0.0.1
rgw_enable_usage_log = false
# SSE-C is only allowed over TLS unless this is off; the test bed speaks plain HTTP.
rgw_crypt_require_ssl = false
CONF
export CEPH_CONF=$CONF

# step WHAT LOG CMD... : runs one setup command (bounded by a timeout), saying
# which step failed and where its output is.
step() {
  local what=$1 log=$2
  shift 2
  timeout 120 "$@" >"$log" 2>&1 || { echo "error: radosgw: $what failed; see $log" >&2; return 1; }
}

step "monmaptool" "$LOGS/monmap.out" monmaptool --create --fsid "$FSID" --addv a "v1:127.0.0.1:$MONPORT" "$BASE/monmap"
step "ceph-mon --mkfs" "$LOGS/mkfs-mon.out" ceph-mon --mkfs -i a --monmap "$BASE/monmap"
ceph-mon -i a -f >"$LOGS/mon.out" 2>&1 &
echo $! >"$BASE/mon.pid"
wait_until 60 "ceph-mon on 127.0.0.1:$MONPORT" "$!" "$LOGS" timeout 5 ceph mon stat

OSD_UUID=$(uuidgen)
step "ceph osd new" "$LOGS/osd-new.out" ceph osd new "$OSD_UUID"
OSD_ID=$(tail -n1 "$LOGS/osd-new.out")
case $OSD_ID in '' | *[!0-9]*) echo "error: radosgw: ceph osd new gave no OSD id; see $LOGS/osd-new.out" >&2; exit 1 ;; esac
step "ceph osd crush add" "$LOGS/osd-crush.out" ceph osd crush add "osd.$OSD_ID" 1.0 root=default
step "ceph-osd --mkfs" "$LOGS/mkfs-osd.out" ceph-osd -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID"
ceph-osd -i "$OSD_ID" -f >"$LOGS/osd.out" 2>&1 &
echo $! >"$BASE/osd.pid"
osd_up() { timeout 5 ceph osd stat | grep -q ' 1 up'; }
wait_until 90 "ceph-osd" "$!" "$LOGS" osd_up

step "radosgw-admin user create" "$LOGS/user.out" radosgw-admin user create --uid=kloset-test \
  --display-name=kloset-test --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY"
radosgw -n client.rgw -f >"$LOGS/rgw.out" 2>&1 &
echo $! >"$BASE/rgw.pid"
wait_until 90 "radosgw on 127.0.0.1:$PORT" "$!" "$LOGS" curl -s -o /dev/null "http://127.0.0.1:$PORT/"

check_sigv4 radosgw "127.0.0.1:$PORT" "$ACCESS_KEY" "$SECRET_KEY"
cat >"$STATE/radosgw.env" <<ENV
KLOSET_TEST_RADOSGW_ENDPOINT=127.0.0.1:$PORT
KLOSET_TEST_RADOSGW_ACCESS_KEY=$ACCESS_KEY
KLOSET_TEST_RADOSGW_SECRET_KEY=$SECRET_KEY
ENV
echo "radosgw ready on 127.0.0.1:$PORT (pid $(cat "$BASE/rgw.pid"), logs $LOGS)"
