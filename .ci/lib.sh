# shellcheck shell=bash
# Shared helpers for the .ci scripts (sourced, not run). They exist so that every
# server script waits, fails and stops the same way: with a timeout, a message
# that says what failed and where its log is, and a stop that is safe to repeat.

# A TCP port on 127.0.0.1 that is free right now. The kernel picks it (bind to
# port 0), so two test beds on one machine do not collide on a fixed port.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until SECONDS WHAT PID LOG CMD... : polls CMD until it succeeds. Fails
# early when PID (the server being waited for; "-" for none) has died, and on
# timeout, naming WHAT and LOG, so a CI failure says which server broke.
wait_until() {
  local seconds=$1 what=$2 pid=$3 log=$4
  shift 4
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$pid" != - ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "error: $what: process $pid died; see $log" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: $what: not ready after ${seconds}s; see $log" >&2
      return 1
    fi
    sleep 0.2
  done
}

# stop_pidfile FILE : stops the process whose PID is in FILE (TERM, then KILL
# after 10 s) and removes FILE. A missing file or a dead process is not an
# error, so a stop can run twice (trap EXIT after an explicit stop).
stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# check_sigv4 NAME ENDPOINT ACCESS_KEY SECRET_KEY : proves the server is usable
# AND checks signatures before any test runs: a signed ListBuckets must answer
# 200 and the same request signed with a wrong secret must answer 403. A server
# that accepts bad signatures would let a broken signer pass every test.
check_sigv4() {
  local name=$1 endpoint=$2 access=$3 secret=$4 good bad
  good=$(s3_status "$endpoint" "$access" "$secret")
  bad=$(s3_status "$endpoint" "$access" "wrong$secret")
  if [ "$good" != 200 ] || [ "$bad" != 403 ]; then
    echo "error: $name: signed ListBuckets gave HTTP $good (want 200), wrong secret gave HTTP $bad (want 403)" >&2
    return 1
  fi
}

# The HTTP status of a ListBuckets signed by curl. curl does not send
# x-amz-content-sha256, which S3 servers require: send the empty body's hash.
s3_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 30 \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$2:$3" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "http://$1/"
}
