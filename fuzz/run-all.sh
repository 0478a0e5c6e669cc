#!/usr/bin/env bash
# Runs every fuzz target for SECS seconds (default 660), JOBS at a time
# (default 2, one per core), logging to LOGDIR (default /tmp/fuzzlogs).
# Crashes land in fuzz/artifacts/<target>/; the corpora in fuzz/corpus/<target>/ grow.
#
#   SECS=660 fuzz/run-all.sh [target...]
set -u
cd "$(dirname "$0")"
SECS=${SECS:-660}
JOBS=${JOBS:-2}
LOGDIR=${LOGDIR:-/tmp/fuzzlogs}
mkdir -p "$LOGDIR"
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo +nightly fuzz list); fi
cargo +nightly fuzz build -O >/dev/null 2>&1 || { echo "cargo fuzz build failed" >&2; exit 1; }
run() {
  cargo +nightly fuzz run -O "$1" -- -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1 \
    > "$LOGDIR/$1.log" 2>&1
  echo "$1 exit $?" >> "$LOGDIR/status"
}
for ((i = 0; i < ${#targets[@]}; i += JOBS)); do
  for ((j = i; j < i + JOBS && j < ${#targets[@]}; j++)); do run "${targets[$j]}" & done
  wait
done
echo ALLDONE >> "$LOGDIR/status"
