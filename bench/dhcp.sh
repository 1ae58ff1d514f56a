#!/bin/bash
# DHCPv4 DORA rate with leases on disk: `recon serve` against Kea 2.2 (kea-dhcp4, memfile CSV,
# single- and multi-threaded) and dnsmasq 2.90, driven by ISC perfdhcp 2.2 (Debian kea-admin).
#
#   bench/dhcp.sh                           # all: sweep, confirm, persist, profile recon, summary
#   bench/dhcp.sh sweep recon kea           # one run per rate in RATES, stopping after a run
#                                           # that loses more than STOP_LOSS %
#   RATES=8000 bench/dhcp.sh repeat recon   # REPEATS runs at each rate in RATES
#   bench/dhcp.sh persist                   # strace: what each server writes and syncs per lease
#   bench/dhcp.sh profile [SERVER...]       # perf trace + perf record at PROFILE_RATE (default recon)
#   bench/dhcp.sh summary FILE.csv          # the tables again from a CSV
#
# `all` runs the sweep; then REPEATS runs at each server's highest swept rate with at most
# MAX_LOSS % loss (a server whose median loss there is higher repeats at its next lower passing
# rate); then `persist`, then `profile recon`. Servers take turns at each rate and each repeat,
# so a change in the machine's load lands on all of them; each run first waits (at most
# QUIET_MAX_WAIT s) for a quiet machine, and every row records the 1-minute load average.
#
# Bounded: no sweep rate starts once the runs have taken SWEEP_BUDGET s, no repeat round once
# they have taken BUDGET s (a round under way finishes: a run is ~DURATION + 6-10 s); the repeats
# step down at most 20 times. With the defaults `bench/dhcp.sh` takes 15-21 min on 2 cores:
# build (~1 min if needed), sweep + repeats (at most ~BUDGET + 1.5 min), persist and profile
# (~2 min). Stale namespaces recon-bench-dhcp-* and work directories of a killed run go first.
#
# Topology, made here and removed on exit: two private namespaces joined by a veth pair,
#   $NS_S  server   bd-s 10.77.0.1/16
#   $NS_C  perfdhcp bd-c 10.77.0.2/16
# perfdhcp behaves as a relay agent (giaddr 10.77.0.2, unicast to 10.77.0.1:67, replies to
# giaddr:67), so every server serves the /16 from its own pool. Nothing touches the host's
# interfaces. Per run: a fresh server and empty lease storage, then
#   perfdhcp -4 -l bd-c -r RATE -R CLIENTS -p DURATION -W 1000000 10.77.0.1
# (CLIENTS simulated MACs; 1 s exit wait so exchanges in flight are not counted as lost).
#
# Servers (lease storage under $W, on the work disk: the script refuses a tmpfs):
#   recon    recon serve --interface bd-s --address 10.77.0.1/16 --dhcp full --lease 4000
#            (leases.jsonl, fdatasync per batch of up to 64 requests before the batch's replies;
#            pool: the whole /16 but network, broadcast and its own address; also serves TFTP
#            on 69, DNS on 10.77.0.1:53, HTTP on 80 and PXE on 4011 inside the namespace)
#   kea      kea-dhcp4, memfile, persist true, lfc-interval 0, multi-threading off (2.2 default),
#            pool 10.77.1.0-10.77.255.250, valid-lifetime 4000, log level WARN to a file
#   kea-mt   the same with multi-threading on (thread-pool-size 2, packet-queue-size 64)
#   dnsmasq  --no-ping --dhcp-authoritative --quiet-dhcp, same pool, lease time 4000, lease file
# Kea is not installed: kea-dhcp4-server's .deb is downloaded and unpacked under bench/.pkgs
# (its package would start a service on the host's interfaces); it uses the libraries of
# kea-common, which kea-admin (perfdhcp) already pulled in.
#
# CSV columns: server,mode,rate_req,run,achieved,do_sent,do_recv,ra_sent,ra_recv,loss_pct,
#   srv_cpu_pct,srv_us_per_ack,cli_cpu_pct,sys_busy_pct,pre_busy_pct,avg_offer_ms,avg_ack_ms,load1,
#   rcvbuf_drops,cli_rcvbuf_drops
#   achieved     ACKs received / DURATION
#   loss_pct     100 * (1 - ACKs received / DISCOVERs sent)
#   srv_cpu_pct  server utime+stime (all threads) over the perfdhcp run; 100 = one core
#   cli_cpu_pct  perfdhcp's CPU, likewise (the client shares the 2 cores)
#   sys_busy_pct whole machine during the run, 100 = all cores; pre_busy_pct the 2 s before it
#   load1        /proc/loadavg's 1-minute figure when the run started
#   rcvbuf_drops datagrams the server namespace's UDP dropped for a full socket buffer during the
#                run (Udp RcvbufErrors): requests the server did not read in time. Kea receives
#                on a packet socket, whose drops this does not count: for Kea it is partial
#   cli_rcvbuf_drops  the same in perfdhcp's namespace: replies the client did not read in time
#                (the loss is then the client's, not the server's)
# Beside the CSV: <OUT>-meta.txt (command, date, versions, load at start and end),
# <OUT>-persist.txt (the strace step) and <OUT>-profile.txt.
#
# Env: SERVERS="recon kea kea-mt dnsmasq" RATES="100 200 500 1000 1250 1500 2000 2500 3000 4000 6000 8000 12000 16000"
#      DURATION=10 CLIENTS=50000 REPEATS=3 STOP_LOSS=25 MAX_LOSS=1 QUIET_MAX_WAIT=6
#      QUIET_BUSY_PCT=15 BUDGET=1200 SWEEP_BUDGET=780 PERSIST_RATE=1000 PERSIST_DURATION=5 PROFILE_RATE=1500
#      BENCH_LOCK=/tmp/recon-bench.lock OUT=bench/results/dhcp-<stamp>.csv
#      RECON=<a recon binary> (default: build this tree's)
#      RECON_B=<another recon binary>: adds server `recon-b` (an A/B against a patch, interleaved)
# Needs root, perfdhcp (kea-admin), dnsmasq (dnsmasq-base), strace, python3, /usr/bin/time; perf for `profile`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
[ "$(id -u)" = 0 ] || { echo "bench/dhcp.sh: run as root" >&2; exit 1; }
BENCH_ARGS=("$@")
BENCH_ENV=()  # the settings given in the environment, for the record
for v in SERVERS RATES DURATION CLIENTS REPEATS STOP_LOSS MAX_LOSS QUIET_MAX_WAIT QUIET_BUSY_PCT BUDGET \
         SWEEP_BUDGET PERSIST_RATE PERSIST_DURATION PROFILE_RATE RECON RECON_B OUT; do
  [ -n "${!v+x}" ] && BENCH_ENV+=("$v=${!v}")
done
MODE=${1:-all}; [ $# -gt 0 ] && shift
ALL_SERVERS="recon kea kea-mt dnsmasq"
KNOWN_SERVERS="$ALL_SERVERS${RECON_B:+ recon-b}"
if [ "$MODE" = summary ]; then
  OUT=${1:?summary needs a CSV}
else
  default=${SERVERS:-$ALL_SERVERS}; [ "$MODE" = profile ] && default=${SERVERS:-recon}
  read -r -a SERVERS <<< "${*:-$default}"
fi
RATES=${RATES:-"100 200 500 1000 1250 1500 2000 2500 3000 4000 6000 8000 12000 16000"}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-50000}
REPEATS=${REPEATS:-3}
STOP_LOSS=${STOP_LOSS:-25}
MAX_LOSS=${MAX_LOSS:-1}
QUIET_MAX_WAIT=${QUIET_MAX_WAIT:-6}
QUIET_BUSY_PCT=${QUIET_BUSY_PCT:-15}
BUDGET=${BUDGET:-1200}
SWEEP_BUDGET=${SWEEP_BUDGET:-780}
PERSIST_RATE=${PERSIST_RATE:-1000}
PERSIST_DURATION=${PERSIST_DURATION:-5}
PROFILE_RATE=${PROFILE_RATE:-1500}
for v in DURATION CLIENTS REPEATS QUIET_MAX_WAIT QUIET_BUSY_PCT BUDGET SWEEP_BUDGET PERSIST_RATE PERSIST_DURATION PROFILE_RATE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v=${!v}: not a whole number" >&2; exit 2; }
done
for r in $RATES; do [[ $r =~ ^[1-9][0-9]*$ ]] || { echo "RATES: $r is not a rate" >&2; exit 2; }; done
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-bench/results/dhcp-$STAMP.csv}
SRV_IP=10.77.0.1

summary() {  # summary CSV [STRACE_SUMMARY]
  python3 - "$@" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
maxloss = float(__import__("os").environ.get("MAX_LOSS", "1"))
order = []
for r in rows:
    if r["server"] not in order:
        order.append(r["server"])
f = lambda r, k: float(r[k]) if r.get(k) not in (None, "", "NA") else float("nan")
print("\nSweep (one run per offered rate): ACKs/s achieved (loss %, server CPU % / perfdhcp CPU %, UDP receive-buffer drops)")
for s in order:
    sw = [r for r in rows if r["server"] == s and r["mode"] == "sweep"]
    if sw:
        print(f"  {s:<8} " + "  ".join(f"{r['rate_req']}: {f(r,'achieved'):.0f} ({f(r,'loss_pct'):.2f} %, "
                                       f"{f(r,'srv_cpu_pct'):.0f}/{f(r,'cli_cpu_pct'):.0f}, {r.get('rcvbuf_drops', '?')})" for r in sw))
best = {}
print(f"\nHighest offered rate with median loss <= {maxloss:g} % over its repeats (median (min-max)):")
print(f"{'server':<8} {'rate':>6} {'n':>2} {'ACKs/s':>16} {'loss %':>18} {'srv CPU %':>10} {'us/ACK':>7} "
      f"{'cli CPU %':>9} {'busy %':>6} {'ACK ms':>7} {'load1':>5}")
for s in order:
    rep = [r for r in rows if r["server"] == s and r["mode"] == "repeat"]
    by_rate = {}
    for r in rep:
        by_rate.setdefault(int(r["rate_req"]), []).append(r)
    ok = [(rate, rs) for rate, rs in by_rate.items() if statistics.median(f(r, "loss_pct") for r in rs) <= maxloss]
    if not ok:
        print(f"{s:<8} {'none':>6}")
        continue
    rate, rs = max(ok)
    med = lambda k: statistics.median(f(r, k) for r in rs)
    mm = lambda k, p=0: f"{med(k):.{p}f} ({min(f(r,k) for r in rs):.{p}f}-{max(f(r,k) for r in rs):.{p}f})"
    best[s] = med("achieved")
    print(f"{s:<8} {rate:>6} {len(rs):>2} {mm('achieved'):>16} {mm('loss_pct', 2):>18} {med('srv_cpu_pct'):>10.0f} "
          f"{med('srv_us_per_ack'):>7.0f} {med('cli_cpu_pct'):>9.0f} {med('sys_busy_pct'):>6.0f} {med('avg_ack_ms'):>7.2f} {med('load1'):>5.2f}")
for r in ("recon", "recon-b"):
    for k in ("kea", "kea-mt", "dnsmasq"):
        if best.get(r) and best.get(k):
            print(f"{r} / {k}: {best[r] / best[k]:.2f}x")
loads = [f(r, "load1") for r in rows if r.get("load1")]
if loads:
    print(f"load average (1 min) at the runs' starts: {min(loads):.2f}-{max(loads):.2f}, median {statistics.median(loads):.2f}")
print(f"\n(raw: {sys.argv[1]})")
PY
}
if [ "$MODE" = summary ]; then summary "$OUT"; exit 0; fi
case "$MODE" in all|sweep|repeat|persist|profile) ;; *) echo "unknown mode $MODE (all, sweep, repeat, persist, profile, summary)" >&2; exit 2;; esac
for s in "${SERVERS[@]}"; do
  case " $KNOWN_SERVERS " in *" $s "*) ;; *) echo "unknown server $s ($KNOWN_SERVERS)" >&2; exit 2;; esac
done
for c in perfdhcp dnsmasq strace python3 /usr/bin/time flock; do
  command -v "$c" >/dev/null || { echo "missing $c (perfdhcp: kea-admin; dnsmasq: dnsmasq-base)" >&2; exit 1; }
done

# One benchmark at a time: two would share the 2 cores and each other's figures.
exec 9>"${BENCH_LOCK:-/tmp/recon-bench.lock}"
flock -w 3600 9 || { echo "another benchmark holds ${BENCH_LOCK:-/tmp/recon-bench.lock}" >&2; exit 1; }

# Namespaces and work directories an interrupted run left behind (the lock says no run of this
# script is live). Processes still in such a namespace are not this run's to signal: they are
# only reported, and the namespace, without its name, goes once they exit.
for ns in $(ip netns list | awk '{print $1}' | grep -E '^recon-bench-dhcp-[sc]-[0-9]+$'); do
  left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  echo "deleting stale namespace $ns${left:+ (processes still in it, not signalled: $left)}" >&2
  ip netns del "$ns" || { echo "could not delete $ns" >&2; exit 1; }
done
for d in /tmp/recon-bench-dhcp.??????; do  # work directories of runs that were killed
  [ -d "$d" ] && [ -O "$d" ] && { echo "removing stale $d" >&2; rm -rf "$d"; }
done

W=$(mktemp -d /tmp/recon-bench-dhcp.XXXXXX)
NS_S=recon-bench-dhcp-s-$$
NS_C=recon-bench-dhcp-c-$$
PIDS=()
stop_pid() {  # TERM, 3 s, KILL; only PIDs this script started
  local p=$1 i
  kill -TERM "$p" 2>/dev/null || return 0
  for i in $(seq 30); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null
}
cleanup() {
  local p ns
  for p in "${PIDS[@]}" ${CLI:+"$CLI"}; do stop_pid "$p"; done
  # Whatever is still inside the two namespaces this run made was started by this run (the
  # servers' helpers, timeout and perfdhcp under /usr/bin/time).
  for ns in "$NS_S" "$NS_C"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do stop_pid "$p"; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fstype=$(findmnt -n -o FSTYPE -T "$W")
case "$fstype" in tmpfs|ramfs) echo "$W is on $fstype: the leases must be on the disk" >&2; exit 1;; esac

# RECON=/path/to/recon measures another build (an A/B against a patch); by default this tree's.
if [ -z "${RECON:-}" ]; then
  cargo build --release --locked -p agent >/dev/null 2>&1 || { echo "cargo build failed" >&2; exit 1; }
  RECON=${CARGO_TARGET_DIR:-$PWD/target}/release/recon
fi
[ -x "$RECON" ] || { echo "no recon binary at $RECON" >&2; exit 1; }
[ -z "${RECON_B:-}" ] || [ -x "$RECON_B" ] || { echo "no recon binary at $RECON_B" >&2; exit 1; }
mkdir -p bench/.pkgs "$(dirname "$OUT")"
if [ ! -x bench/.pkgs/kea-dhcp4-server/usr/sbin/kea-dhcp4 ]; then
  (cd bench/.pkgs && apt-get download kea-dhcp4-server >/dev/null 2>&1 \
     && dpkg-deb -x kea-dhcp4-server_*.deb kea-dhcp4-server) || { echo "could not fetch kea-dhcp4-server" >&2; exit 1; }
fi
KEA=$PWD/bench/.pkgs/kea-dhcp4-server/usr/sbin/kea-dhcp4
"$KEA" -V >/dev/null 2>&1 || { echo "$KEA does not run (kea-common missing?)" >&2; exit 1; }

# The veth pair is created inside $NS_S (its peer moved straight into $NS_C): no interface of
# this run ever exists in the host's namespace.
{ ip netns add "$NS_S" && ip netns add "$NS_C" \
  && ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up \
  && ip -n "$NS_S" link add bd-s type veth peer name bd-c netns "$NS_C" \
  && ip -n "$NS_S" addr add 10.77.0.1/16 dev bd-s && ip -n "$NS_C" addr add 10.77.0.2/16 dev bd-c \
  && ip -n "$NS_S" link set bd-s up && ip -n "$NS_C" link set bd-c up; } || { echo "could not make the namespaces" >&2; exit 1; }
mkdir -p "$W/boot"
load1() { cut -d' ' -f1 /proc/loadavg; }
META=${OUT%.csv}-meta.txt
{
  echo "command: $(printf '%q ' "${BENCH_ENV[@]}" bench/dhcp.sh "${BENCH_ARGS[@]}")"
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/{print int($2/1024)" MiB"}' /proc/meminfo); leases on $fstype ($(findmnt -n -o SOURCE -T "$W"))"
  echo "recon: $RECON ($(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- agent 2>/dev/null || echo ', agent/ modified'))"
  [ -z "${RECON_B:-}" ] || echo "recon-b: $RECON_B"
  echo "kea-dhcp4: $("$KEA" -V 2>/dev/null | head -1); perfdhcp: $(dpkg-query -W -f '${Version}' kea-admin 2>/dev/null); dnsmasq: $(dnsmasq -v | head -1)"
  echo "servers: ${SERVERS[*]}; rates: $RATES; DURATION=$DURATION CLIENTS=$CLIENTS REPEATS=$REPEATS MAX_LOSS=$MAX_LOSS STOP_LOSS=$STOP_LOSS"
  echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$META" >&2

# Machine load: busy and total jiffies over all CPUs; busy % between two snapshots.
snap() { awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6, t; exit}' /proc/stat; }
busy() { local a b; read -r -a a <<< "$1"; read -r -a b <<< "$2"; awk -v b=$(( b[0]-a[0] )) -v t=$(( b[1]-a[1] )) 'BEGIN{printf "%.0f", t?100*b/t:0}'; }
# Waits (at most QUIET_MAX_WAIT s) for a 2-s window with the machine at most QUIET_BUSY_PCT % busy;
# prints the busy % it settled on.
wait_quiet() {
  local t=0 a b p
  while :; do
    a=$(snap); sleep 2; b=$(snap); p=$(busy "$a" "$b")
    [ "$p" -le "$QUIET_BUSY_PCT" ] && break
    t=$((t + 2)); [ "$t" -ge "$QUIET_MAX_WAIT" ] && { echo "machine still ${p}% busy after ${QUIET_MAX_WAIT}s; measuring anyway" >&2; break; }
  done
  echo "$p"
}
# shellcheck disable=SC2016
rcvbuf_errors() { ip netns exec "${1:-$NS_S}" awk '/^Udp:/ && ++n == 2 {print $6}' /proc/net/snmp; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

SRV='' REAL='' CLI=''
start() {  # start SERVER [WRAPPER...]: a fresh server on empty lease storage; sets SRV and REAL
  local s=$1; shift
  local d=$W/srv
  rm -rf "$d"; mkdir -p "$d"
  case $s in
    recon|recon-b)
      local bin=$RECON; [ "$s" = recon-b ] && bin=$RECON_B
      ip netns exec "$NS_S" "$@" "$bin" serve --interface bd-s --address 10.77.0.1/16 --boot "$W/boot" \
        --data "$d" --dhcp full --lease 4000 > "$d/log" 2>&1 & ;;
    kea|kea-mt)
      local mt='"enable-multi-threading": false'
      [ "$s" = kea-mt ] && mt='"enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64'
      cat > "$d/kea.json" <<EOF
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["bd-s"]},
  "lease-database": {"type": "memfile", "persist": true, "name": "$d/leases4.csv", "lfc-interval": 0},
  "valid-lifetime": 4000,
  "multi-threading": { $mt },
  "subnet4": [{"subnet": "10.77.0.0/16", "pools": [{"pool": "10.77.1.0 - 10.77.255.250"}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "$d/kea.log"}], "severity": "WARN"}]
}}
EOF
      KEA_LOCKFILE_DIR=$d KEA_PIDFILE_DIR=$d ip netns exec "$NS_S" "$@" "$KEA" -c "$d/kea.json" > "$d/log" 2>&1 & ;;
    dnsmasq)
      ip netns exec "$NS_S" "$@" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --interface=bd-s \
        --bind-interfaces --user=root --group=root --dhcp-range=10.77.1.0,10.77.255.250,255.255.0.0,4000 \
        --dhcp-lease-max=70000 --dhcp-authoritative --quiet-dhcp --no-ping --dhcp-leasefile="$d/dnsmasq.leases" \
        --pid-file="$d/dnsmasq.pid" --log-facility="$d/dnsmasq.log" > "$d/log" 2>&1 & ;;
  esac
  SRV=$!; PIDS+=("$SRV"); REAL=$SRV
  local i
  for i in $(seq 100); do ip netns exec "$NS_S" ss -Hlnu "sport = :67" | grep -q . && break; sleep 0.1; done
  sleep 1
  if ! kill -0 "$SRV" 2>/dev/null || ! ip netns exec "$NS_S" ss -Hlnu "sport = :67" | grep -q .; then
    echo "$s did not start" >&2; cat "$d/log" >&2; exit 1
  fi
  # Under strace, the server is strace's child.
  if [ $# -gt 0 ]; then
    for i in $(seq 50); do REAL=$(pgrep -P "$SRV" | head -1); [ -n "$REAL" ] && break; sleep 0.1; done
    [ -n "$REAL" ] || { echo "no server under strace" >&2; exit 1; }
    PIDS+=("$REAL")
  fi
}
stop() {  # the server first (under strace, strace then writes its file and exits)
  local p i
  for p in "$REAL" "$SRV"; do
    kill -TERM "$p" 2>/dev/null || continue
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  wait "$SRV" 2>/dev/null
  PIDS=()  # never signal a PID after its process is gone: the number may be someone else's now
}

[ -s "$OUT" ] || echo "server,mode,rate_req,run,achieved,do_sent,do_recv,ra_sent,ra_recv,loss_pct,srv_cpu_pct,srv_us_per_ack,cli_cpu_pct,sys_busy_pct,pre_busy_pct,avg_offer_ms,avg_ack_ms,load1,rcvbuf_drops,cli_rcvbuf_drops" > "$OUT"
client() {  # client RATE SECONDS LOG: one perfdhcp run from $NS_C, in the background and waited
            # for, so that a signal reaches the traps at once
  ip netns exec "$NS_C" /usr/bin/time -f "CLI_CPU %U %S %e" timeout $(($2 + 30)) \
    perfdhcp -4 -l bd-c -r "$1" -R "$CLIENTS" -p "$2" -W 1000000 "$SRV_IP" > "$3" 2>&1 &
  CLI=$!; wait "$CLI"; CLI=''
}
run_one() {  # run_one SERVER MODE RATE RUN: appends a CSV row
  local s=$1 m=$2 r=$3 n=$4 pre log t0 t1 a b ts te ld u0 u1 c0 c1
  timeout 60 sync -f "$W"  # the previous run's lease writes reach the disk before this run
  pre=$(wait_quiet)
  start "$s"
  log=$W/perf.txt
  ld=$(load1); u0=$(rcvbuf_errors); c0=$(rcvbuf_errors "$NS_C")
  t0=$(ticks "$REAL"); a=$(snap); ts=$EPOCHREALTIME
  client "$r" "$DURATION" "$log"
  te=$EPOCHREALTIME; t1=$(ticks "$REAL"); b=$(snap); u1=$(rcvbuf_errors); c1=$(rcvbuf_errors "$NS_C")
  stop
  grep -q 'Statistics for: REQUEST-ACK' "$log" || { echo "perfdhcp gave no statistics:" >&2; tail -5 "$log" >&2; }
  awk -v s="$s" -v m="$m" -v r="$r" -v n="$n" -v dt=$((t1 - t0)) -v hz="$HZ" -v dur="$DURATION" \
      -v wall="$(awk -v a="$ts" -v b="$te" 'BEGIN{print b - a}')" -v sb="$(busy "$a" "$b")" -v pre="$pre" -v ld="$ld" -v ud=$((u1 - u0)) -v cd=$((c1 - c0)) '
    /Statistics for: DISCOVER-OFFER/ {sec="do"} /Statistics for: REQUEST-ACK/ {sec="ra"}
    /^sent packets:/ {sent[sec]=$3} /^received packets:/ {recv[sec]=$3}
    /^avg delay:/ {avg[sec]=$3}
    /^CLI_CPU/ {cli=$2+$3}
    END { acks = recv["ra"] + 0
          loss = sent["do"] ? 100 * (1 - acks / sent["do"]) : 100
          printf "%s,%s,%s,%s,%.0f,%d,%d,%d,%d,%.2f,%.0f,%.0f,%.0f,%s,%s,%s,%s,%s,%s,%s\n", s, m, r, n, acks / dur,
            sent["do"], recv["do"], sent["ra"], acks, loss, 100 * dt / hz / wall, acks ? 1e6 * dt / hz / acks : 0,
            100 * cli / wall, sb, pre, (avg["do"] == "" ? "NA" : avg["do"]), (avg["ra"] == "" ? "NA" : avg["ra"]), ld, ud, cd }' \
    "$log" | tee -a "$OUT"
}
loss_of_last() { tail -1 "$OUT" | cut -d, -f10; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a > b)}'; }

# Servers are interleaved (each rate, each repeat, server after server) so that a change in the
# machine's load lands on all of them rather than on one.
declare -A PASS   # server -> the rates it swept with at most MAX_LOSS % loss, highest first
# The servers in turn, starting at the K-th: who follows whom changes from round to round (a
# server's run inherits the page cache and writeback its predecessor left).
rotate() { local k=$1; shift; local i; for i in $(seq 0 $(($# - 1))); do echo "${@:$(((k + i) % $# + 1)):1}"; done; }
spent() { [ $((SECONDS - T0)) -ge "$1" ] && echo "time budget of $1 s used up ($2)" >&2; }
sweep() {  # sweep SERVER...: raise the rate until a run loses more than STOP_LOSS %
  local r s active=("$@") next k=0
  for s in "$@"; do PASS[$s]=""; done
  for r in $RATES; do
    [ ${#active[@]} -gt 0 ] || break
    spent "$SWEEP_BUDGET" "SWEEP_BUDGET: no sweep at $r/s and above" && break
    next=()
    for s in $(rotate $((k++)) "${active[@]}"); do
      run_one "$s" sweep "$r" 1
      gt "$(loss_of_last)" "$MAX_LOSS" || PASS[$s]="$r ${PASS[$s]}"
      gt "$(loss_of_last)" "$STOP_LOSS" || next+=("$s")
    done
    active=("${next[@]}")
  done
}
median_loss() {  # median_loss SERVER RATE: over this session's repeat rows
  awk -F, -v s="$1" -v r="$2" '$1 == s && $2 == "repeat" && $3 == r {print $10}' "$OUT" | sort -g \
    | awk '{a[NR]=$1} END{print NR ? ((NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) : 100}'
}
confirm() {  # confirm SERVER...: REPEATS runs at each server's best swept rate; a server whose
             # median loss there exceeds MAX_LOSS moves down to its next passing rate
  local -A rate
  local s n active=() next c
  for s in "$@"; do
    read -r -a c <<< "${PASS[$s]:-}"
    if [ ${#c[@]} -gt 0 ]; then rate[$s]=${c[0]}; active+=("$s")
    else echo "$s: no rate in RATES with <= $MAX_LOSS % loss" >&2; fi
  done
  for _ in $(seq 20); do
    [ ${#active[@]} -gt 0 ] || break
    for n in $(seq "$REPEATS"); do
      spent "$BUDGET" "BUDGET: repeats of ${active[*]} cut short" && return
      for s in $(rotate "$n" "${active[@]}"); do run_one "$s" repeat "${rate[$s]}" "$n"; done
    done
    next=()
    for s in "${active[@]}"; do
      gt "$(median_loss "$s" "${rate[$s]}")" "$MAX_LOSS" || continue
      read -r -a c <<< "${PASS[$s]}"
      local i lower=
      for i in "${!c[@]}"; do [ "${c[$i]}" = "${rate[$s]}" ] && lower=${c[$((i + 1))]:-}; done
      if [ -n "$lower" ]; then
        echo "$s: median loss above $MAX_LOSS % at ${rate[$s]}/s; repeating at $lower/s" >&2
        rate[$s]=$lower; next+=("$s")
      else
        echo "$s: median loss above $MAX_LOSS % at every swept rate" >&2
      fi
    done
    active=("${next[@]}")
  done
}

# What each server writes and syncs per lease, verified rather than assumed: PERSIST_RATE DORA/s
# for PERSIST_DURATION s under strace -f (-y names the file behind each descriptor; not -yy,
# whose per-call socket lookup slows Kea's packet socket to ~20 replies/s; -s 65536 keeps the data). Each DHCP reply sent is decoded (message type, yiaddr), and for every
# ACK it tells whether, when the ACK left, the leased address had been written to the lease file
# (its text in a write to a file named *lease*) and whether an fsync/fdatasync of that file that
# started after the write had returned. The lease file's line count after the run is shown too.
persist() {
  local s=$1 tr
  tr=$W/strace-$s.txt
  wait_quiet >/dev/null
  start "$s" strace -f -y -qq -x -s 65536 -o "$tr" \
    -e trace=fsync,fdatasync,sync_file_range,msync,syncfs,write,writev,pwrite64,pwritev,sendto,sendmsg,sendmmsg
  client "$PERSIST_RATE" "$PERSIST_DURATION" "$W/perf.txt"
  stop
  local acks files
  acks=$(awk '/Statistics for: REQUEST-ACK/{f=1} f && /^received packets:/{print $3; exit}' "$W/perf.txt")
  files=$(cd "$W/srv" && for f in *lease*; do [ -f "$f" ] && echo "$f $(wc -l < "$f") lines $(stat -c %s "$f") octets"; done)
  python3 - "$s" "$tr" "${acks:-0}" "$PERSIST_RATE" "$PERSIST_DURATION" "$files" <<'PY' | tee -a "${OUT%.csv}-persist.txt"
import re, sys
server, path, acks, rate, dur, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
head = re.compile(r"^(\d+)\s+(\w+)\((\d+)<(.*?)>(?=[,) ])")  # " <unfinished ...>" after a one-argument call
resumed = re.compile(r"^(\d+)\s+<\.\.\. (\w+) resumed>")
qstr = re.compile(r'"((?:[^"\\]|\\.)*)"')
iov = re.compile(r'iov_base="((?:[^"\\]|\\.)*)"')
ESC = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8}
def unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode("latin-1", "replace"); i += 1; continue
        n = s[i + 1]
        if n == "x":
            out.append(int(s[i + 2:i + 4], 16)); i += 4
        elif n in ESC:
            out.append(ESC[n]); i += 2
        else:                                   # octal
            j = i + 1
            while j < min(i + 4, len(s)) and s[j] in "01234567": j += 1
            out.append(int(s[i + 1:j], 8) & 255); i = j
    return bytes(out)
def dhcp(b):  # (message type, yiaddr) of a BOOTREPLY, or None; b is UDP data or (Kea's
              # packet socket) a whole Ethernet frame
    if len(b) > 42 and b[12:14] == b"\x08\x00" and b[23] == 17:
        b = b[14 + 4 * (b[14] & 15) + 8:]
    if len(b) < 241 or b[0] != 2 or b[236:240] != b"\x63\x82\x53\x63":
        return None
    i = 240
    while i + 1 < len(b) and b[i] != 255:
        if b[i] == 0: i += 1; continue
        if b[i] == 53 and i + 2 < len(b): return b[i + 2], ".".join(map(str, b[16:20]))
        i += 2 + b[i + 1]
    return None
WRITES = ("write", "writev", "pwrite64", "pwritev")
SYNCS = ("fsync", "fdatasync")
count = {}
seq = 0            # lease-file writes so far
written = {}       # address -> the lease-file write that first carried it
synced = 0         # every lease-file write up to this one is covered by a returned sync
pending = {}       # pid -> the write count when its sync started
kinds = {2: "OFFER", 5: "ACK", 6: "NAK"}
sent = {}
ack = {"synced": 0, "written, not synced": 0, "not written": 0}
for line in open(path, encoding="latin-1"):
    m = head.match(line)
    if m:
        pid, call, fd, target = m.groups()
        sock = target.split(":")[0] if target.startswith(("socket:", "UDP", "TCP", "UNIX", "NETLINK")) else None
        name = sock or target.rsplit("/", 1)[-1]
        count[(call, name)] = count.get((call, name), 0) + 1
        lease = sock is None and "lease" in name
        if call in WRITES and lease:
            seq += 1
            data = "".join(iov.findall(line)) if call.endswith("v") else (qstr.findall(line[m.end():]) or [""])[0]
            for a in set(re.findall(r"10\.77\.\d+\.\d+", unescape(data).decode("latin-1"))):
                written.setdefault(a, seq)
        elif call in SYNCS and lease:
            if "<unfinished" in line: pending[pid] = seq
            else: synced = max(synced, seq)
        elif call in ("sendto", "sendmsg") and sock in ("UDP", "socket"):
            data = iov.findall(line) if call == "sendmsg" else qstr.findall(line[m.end():])[:1]
            d = dhcp(unescape(data[0])) if data else None
            if d:
                t, a = d
                sent[kinds.get(t, t)] = sent.get(kinds.get(t, t), 0) + 1
                if t == 5:
                    w = written.get(a)
                    ack["not written" if w is None else "synced" if w <= synced else "written, not synced"] += 1
        continue
    m = resumed.match(line)
    if m and m.group(2) in SYNCS and m.group(1) in pending:
        synced = max(synced, pending.pop(m.group(1)))
print(f"== {server}: {acks} ACKs received by perfdhcp, {rate}/s offered for {dur} s, server under strace -f")
for (call, name), n in sorted(count.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    print(f"   {call:<10} {name:<20} {n:>7}   {n / acks if acks else 0:.3f} per ACK")
print("   replies decoded: " + ", ".join(f"{k} {v}" for k, v in sent.items()))
n = sum(ack.values())
print(f"   when each ACK left, its address was: " + ", ".join(f"{k} {v} ({100 * v / n if n else 0:.1f} %)" for k, v in ack.items()))
print("   lease file after the run: " + (files.replace("\n", "; ") or "none"))
PY
}

# Where a server's time goes at PROFILE_RATE DORA/s for DURATION s (default recon): one run under
# `perf trace` (its syscalls with their durations, no ptrace stops: how long each fdatasync
# blocks, how many datagrams each batch takes, how many the socket dropped), one under
# `perf record -F 199 --call-graph dwarf` (where its CPU goes; recon only, which has debug info).
# Both attach to the server's PID from outside.
profile() {
  local s=$1 tp u0 u1
  wait_quiet >/dev/null
  start "$s"
  u0=$(rcvbuf_errors)
  perf trace -o "$W/trace.txt" -e fdatasync,fsync,recvfrom,recvmsg,sendto,sendmsg -p "$REAL" 2>"$W/trace.err" &
  tp=$!; PIDS+=("$tp"); sleep 1
  client "$PROFILE_RATE" "$DURATION" "$W/perf.txt"
  u1=$(rcvbuf_errors)
  kill -INT "$tp" 2>/dev/null; wait "$tp" 2>/dev/null
  stop
  python3 - "$s" "$W/trace.txt" "$W/perf.txt" "$PROFILE_RATE" "$DURATION" $((u1 - u0)) <<'PY' | tee -a "${OUT%.csv}-profile.txt"
import re, statistics, sys
server, trace, perf, rate, dur, drops = sys.argv[1:7]
acks = sent = 0
sec = None
for l in open(perf):
    if "Statistics for: DISCOVER-OFFER" in l: sec = "do"
    if "Statistics for: REQUEST-ACK" in l: sec = "ra"
    if l.startswith("sent packets:") and sec == "do": sent = int(l.split()[2])
    if l.startswith("received packets:") and sec == "ra": acks = int(l.split()[2])
line = re.compile(r"^\s*([\d.]+) \(\s*([\d.]+) ms\): \S+ (\w+)\(.*\)\s+= (-?\d+)")
syncs, batches, n, calls, t_first, t_last = [], [], 0, {}, None, 0.0
for l in open(trace):
    m = line.match(l)
    if not m: continue
    t, d, call, ret = float(m[1]), float(m[2]), m[3], int(m[4])
    t_first = t if t_first is None else t_first; t_last = t + d
    calls[call] = calls.get(call, 0) + 1
    if call in ("fdatasync", "fsync"): syncs.append(d)
    if call in ("recvfrom", "recvmsg"):
        n += ret > 0
    elif n:                 # the first send or sync after reads: that batch is being answered
        batches.append(n); n = 0
if n: batches.append(n)
wall = (t_last - (t_first or 0)) / 1000 or 1
print(f"== {server} at {rate}/s for {dur} s under perf trace: {acks} ACKs for {sent} DISCOVERs "
      f"({100 * (1 - acks / sent) if sent else 100:.2f} % lost); UDP receive-buffer drops in its namespace: {drops}")
print("   syscalls: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
if syncs:
    q = statistics.quantiles(syncs, n=100) if len(syncs) > 1 else syncs * 99
    print(f"   fsync/fdatasync: {len(syncs)} ({len(syncs) / acks if acks else 0:.3f} per ACK); ms p50 {q[49]:.2f} "
          f"p90 {q[89]:.2f} p99 {q[98]:.2f} max {max(syncs):.2f}; blocked in them {sum(syncs) / 1000:.2f} s "
          f"of {wall:.2f} s traced ({100 * sum(syncs) / 1000 / wall:.0f} %)")
if batches:
    full = sum(1 for b in batches if b >= 64)
    print(f"   datagrams read per batch (reads before a send or sync): {len(batches)} batches, mean {statistics.mean(batches):.1f}, "
          f"median {statistics.median(batches):.0f}, max {max(batches)}; batches of 64 or more: {full}")
PY
  [ "$s" = recon ] || [ "$s" = recon-b ] || return 0
  wait_quiet >/dev/null
  start "$s"
  perf record -q -F 199 --call-graph dwarf,16384 -o "$W/perf.data" -p "$REAL" 2>"$W/record.err" &
  tp=$!; PIDS+=("$tp"); sleep 1
  client "$PROFILE_RATE" "$DURATION" "$W/perf.txt"
  kill -INT "$tp" 2>/dev/null; wait "$tp" 2>/dev/null
  stop
  { echo "   perf record -F 199 --call-graph dwarf, $PROFILE_RATE/s for $DURATION s: self time by symbol (>= 1.5 %)"
    perf report -i "$W/perf.data" --stdio --no-children -g none --percent-limit 1.5 --sort symbol 2>/dev/null \
      | grep -E '^ +[0-9]' | sed -E 's/^/   /; s/[ -]+$//' | cut -c1-150
    echo "   and including callees, the DHCP loop's functions:"
    perf report -i "$W/perf.data" --stdio --children -g none --sort symbol 2>/dev/null \
      | grep -E '^ +[0-9].*(Dhcp|dhcp|Server|Leases|Store|serde|Journal|refresh|choose|drain|send)' \
      | grep -vE '\] (call_once|catch_unwind|do_call|poll|run)<' | head -16 | sed -E 's/^/   /; s/[ -]+$//' | cut -c1-150
  } | tee -a "${OUT%.csv}-profile.txt"
}

T0=$SECONDS
case $MODE in
  sweep)   sweep "${SERVERS[@]}" ;;
  repeat)  for r in $RATES; do for n in $(seq "$REPEATS"); do
             spent "$BUDGET" "BUDGET: no repeat $n at $r/s and after" && break 2
             for s in $(rotate "$n" "${SERVERS[@]}"); do run_one "$s" repeat "$r" "$n"; done; done; done ;;
  persist) for s in "${SERVERS[@]}"; do persist "$s"; done ;;
  profile) for s in "${SERVERS[@]}"; do profile "$s"; done ;;
  all)     sweep "${SERVERS[@]}"; confirm "${SERVERS[@]}"
           for s in "${SERVERS[@]}"; do persist "$s"; done
           case " ${SERVERS[*]} " in *" recon "*) if command -v perf >/dev/null; then profile recon
             else echo "no perf: no profile of recon" >&2; fi ;; esac ;;
esac
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg); $((SECONDS - T0)) s of runs" | tee -a "$META" >&2
case $MODE in persist|profile) ;; *) summary "$OUT";; esac
