#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) with cargo-fuzz on the
# nightly toolchain; crashes land in fuzz/artifacts/<target>/ — turn each into
# a regression test beside the parser it broke.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-60}
command -v cargo-fuzz >/dev/null || cargo +nightly install cargo-fuzz --locked
for target in xml config sigv4; do
  # Past findings first: each must pass before new ground is searched.
  if [ -d "regressions/$target" ]; then
    cargo +nightly fuzz run "$target" regressions/"$target"/* 2>&1 | tail -n 1
  fi
  echo "== fuzzing $target for ${SECONDS_EACH}s"
  cargo +nightly fuzz run "$target" -- -max_total_time="$SECONDS_EACH" -max_len=65536 >"run-$target.log" 2>&1 \
    || { tail -n 40 "run-$target.log"; exit 1; }
  grep -E '^Done [0-9]+ runs' "run-$target.log"
done
