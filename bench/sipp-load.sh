#!/usr/bin/env bash
# sipp-driven load through a transaction-stateful forwarding proxy on loopback UDP:
# sipp's built-in uac -> proxy -> sipp's built-in uas, at increasing call rates.
# Reports, per rate, successful and failed calls; the max rate is the highest one
# with < 0.1% failed calls. Proxies: clearwater (examples/forward-proxy) and, as the
# same-run peer, Kamailio (tm t_relay + record_route), both given 2 worker processes/threads.
# Kamailio gets 2 GiB of shared memory: with 256 MiB its transaction table runs out of
# memory near 2000 cps ("could not allocate shared memory from shm pool"). Both ask for
# 4 MiB UDP socket buffers (clearwater's default; Kamailio's maxbuffer, receive side only).
# Kamailio runs in the foreground with -DD: a single -D is "no fork" mode (one process).
#
# usage: bench/sipp-load.sh [seconds-per-rate] [rates...]
#   e.g. bench/sipp-load.sh 10 250 500 1000 1500 2000
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}; shift || true
RATES=("$@"); [ ${#RATES[@]} -gt 0 ] || RATES=(250 500 1000 1500 2000 3000)
command -v sipp >/dev/null || { echo "sipp missing: apt-get install -y sip-tester" >&2; exit 1; }
cargo build --release -q -p clearwater-sip --features runtime --example forward-proxy
WORK=$(mktemp -d); trap 'pkill -P $$ || true; rm -rf "$WORK"' EXIT
UAS_PORT=15960; PROXY_PORT=15962; UAC_PORT=15964

start_uas() { (cd "$WORK" && sipp -sn uas -i 127.0.0.1 -p $UAS_PORT -bg -nostdin > /dev/null 2>&1) || true; sleep 0.5; }  # -bg exits 99
stop_uas() { pkill -f "sipp -sn uas -i 127.0.0.1 -p $UAS_PORT" || true; sleep 0.3; }

start_proxy() {
  case $1 in
    clearwater)
      target/release/examples/forward-proxy --listen 127.0.0.1:$PROXY_PORT --to 127.0.0.1:$UAS_PORT 2> "$WORK/proxy.log" &
      ;;
    kamailio)
      command -v kamailio >/dev/null || { echo "kamailio missing: apt-get install -y kamailio" >&2; return 1; }
      MP=$(dirname "$(find /usr/lib -name tm.so -path '*kamailio*' | head -1)")
      cat > "$WORK/kamailio.cfg" <<CFG
#!KAMAILIO
debug=0
log_stderror=yes
memdbg=5
memlog=5
children=2
maxbuffer=4194304
listen=udp:127.0.0.1:$PROXY_PORT
mpath="$MP"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "pv.so"
loadmodule "siputils.so"
request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (!has_totag()) { record_route(); }
    \$du = "sip:127.0.0.1:$UAS_PORT";
    if (!t_relay()) { sl_reply_error(); }
}
CFG
      kamailio -c -f "$WORK/kamailio.cfg" > "$WORK/check.log" 2>&1 || { cat "$WORK/check.log" >&2; return 1; }
      kamailio -f "$WORK/kamailio.cfg" -DD -E -m 2048 -M 32 -P "$WORK/kam.pid" 2> "$WORK/proxy.log" &
      ;;
  esac
  sleep 1
}
stop_proxy() { pkill -f "forward-proxy --listen 127.0.0.1:$PROXY_PORT" || true; [ -f "$WORK/kam.pid" ] && kill "$(cat "$WORK/kam.pid")" 2>/dev/null || true; pkill -f "kamailio -f $WORK" || true; sleep 0.5; }

run_rate() { # proxy rate -> prints "successful failed"
  local calls=$(( $2 * SECS ))
  (cd "$WORK" && sipp -sn uac 127.0.0.1:$PROXY_PORT -i 127.0.0.1 -p $UAC_PORT -m $calls -r $2 \
      -nostdin -timeout $(( SECS * 3 + 30 ))s -timeout_error -l 20000 > "$WORK/uac.out" 2>&1) || true
  local ok fail
  ok=$(grep -a "Successful call" "$WORK/uac.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  fail=$(grep -a "Failed call" "$WORK/uac.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  echo "${ok:-0} ${fail:-0} $calls"
}

echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "proxy      rate(cps)  calls  successful  failed  failed%"
for proxy in clearwater kamailio; do
  best=0
  for rate in "${RATES[@]}"; do
    start_uas; start_proxy $proxy || break
    read -r ok fail calls < <(run_rate $proxy "$rate")
    stop_proxy; stop_uas
    pct=$(awk -v f="$fail" -v c="$calls" 'BEGIN { printf "%.3f", (c>0)?100*f/c:100 }')
    printf "%-10s %9s  %5s  %10s  %6s  %7s\n" "$proxy" "$rate" "$calls" "$ok" "$fail" "$pct"
    if awk -v p="$pct" -v o="$ok" -v c="$calls" 'BEGIN { exit !(p < 0.1 && o >= c*0.999) }'; then best=$rate; else break; fi
  done
  echo "$proxy max rate with < 0.1% failed calls: $best cps"
done
