#!/bin/bash
# TFTP read throughput: recon tftpd against tftpd-hpa (in.tftpd 5.2) and dnsmasq 2.90's TFTP, with
# the same files and the same real clients, runs interleaved server by server.
#
#   bench/tftp.sh                 # idle machine: each end wherever the scheduler puts it
#   PIN_CPU=0 bench/tftp.sh       # server and client on one CPU (see below)
#
# Everything runs in a network namespace this script creates, on its loopback (127.0.0.1, MTU
# 65536) plus a private veth address that in.tftpd needs to start; nothing touches the host's
# network. Files: random 1 MiB and 40 MiB in a tmpfs. Clients:
#   curl-512        curl tftp://... (blksize 512, as a plain PXE ROM)
#   curl-1468       curl --tftp-blksize 1468 (iPXE and UEFI ask for about that)
#   atftp-1468-w16  atftp --option "blksize 1468" --option "windowsize 16" (RFC 7440; only recon
#                   grants windowsize, the others answer lock-step)
#   20x curl-1468   twenty at once, aggregate MB/s
# Each transfer is checked byte for byte; a failed one counts as 0 MB/s, never as fast.
# Reported: median MB/s (1e6 B/s) over REPEATS, the ratio to tftpd-hpa, and the server's CPU
# time per MB (utime+stime of the server and its reaped children, from /proc).
#
# This VM halts idle vCPUs and waking one costs tens of microseconds, so lock-step TFTP on an
# idle machine measures wake-up latency twice per block. PIN_CPU puts both ends on one CPU,
# which measures the protocol and CPU cost instead.
#
# Env: REPEATS=3 FILES="1M 40M" CONC=20 PIN_CPU= OUT=bench/results/tftp-<stamp>.csv
# Needs root, curl, atftp, python3 and the tftpd-hpa .deb (downloaded and unpacked here, never
# installed: its package would start a service on the host).
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/tftp.sh: run as root" >&2; exit 1; }
REPEATS=${REPEATS:-3}
FILES=${FILES:-"1M 40M"}
CONC=${CONC:-20}
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-bench/results/tftp-$STAMP${PIN_CPU:+-pin$PIN_CPU}.csv}
W=$(mktemp -d /tmp/recon-bench-tftp.XXXXXX)
NS=recon-bench-tftp-$$
# Server CPU is read from a cpuacct cgroup the server is started in, so that tftpd-hpa's forked
# children (which it does not reap into its own counters) count too.
CG=/sys/fs/cgroup/cpuacct/recon-bench-tftp-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3
  ip netns del "$NS" 2>/dev/null
  umount "$W/root" "$W/dl" 2>/dev/null
  rmdir "$CG" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for c in curl atftp python3; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
cargo build --release --locked -p agent >/dev/null 2>&1 || { echo "cargo build failed" >&2; exit 1; }
RECON=$PWD/target/release/recon
mkdir -p bench/.pkgs "$(dirname "$OUT")"
if [ ! -x bench/.pkgs/tftpd-hpa/usr/sbin/in.tftpd ]; then
  (cd bench/.pkgs && apt-get download tftpd-hpa >/dev/null 2>&1 && dpkg-deb -x tftpd-hpa_*.deb tftpd-hpa) \
    || { echo "could not fetch tftpd-hpa" >&2; exit 1; }
fi
INTFTPD=$PWD/bench/.pkgs/tftpd-hpa/usr/sbin/in.tftpd
command -v dnsmasq >/dev/null || { echo "missing dnsmasq (dnsmasq-base)" >&2; exit 1; }

ip netns add "$NS"
ip -n "$NS" link set lo up
# in.tftpd resolves its -a address with AI_ADDRCONFIG, which ignores a loopback-only host.
ip -n "$NS" link add bt0 type veth peer name bt1
ip -n "$NS" addr add 10.79.0.1/24 dev bt0
ip -n "$NS" link set bt0 up; ip -n "$NS" link set bt1 up
mkdir -p "$W/root" "$W/dl"
# Files and downloads in RAM: the disk stays out of the figures.
mount -t tmpfs -o size=1g recon-bench "$W/root"
mount -t tmpfs -o size=2g recon-bench-dl "$W/dl"
for f in $FILES; do head -c "$f" /dev/urandom > "$W/root/f$f"; done
chmod 755 "$W/root"; chmod 644 "$W/root"/*
PIN=(); [ -n "${PIN_CPU:-}" ] && PIN=(taskset -c "$PIN_CPU")
nsx() { ip netns exec "$NS" "$@"; }

SRV=
start() {
  # bash joins the cgroup and execs `ip netns exec`, which execs the server: $! is its PID.
  local run=(bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" ip netns exec "$NS" "${PIN[@]}")
  case $1 in
    recon)     "${run[@]}" "$RECON" tftpd --root "$W/root" --listen 127.0.0.1 > "$W/srv.log" 2>&1 & ;;
    tftpd-hpa) "${run[@]}" "$INTFTPD" -4 -L -u root -s "$W/root" -a 127.0.0.1:69 > "$W/srv.log" 2>&1 & ;;
    dnsmasq)   "${run[@]}" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --listen-address=127.0.0.1 \
                 --bind-interfaces --user=root --group=root --enable-tftp --tftp-root="$W/root" --tftp-max=200 \
                 --log-facility="$W/srv.log" > /dev/null 2>&1 & ;;
  esac
  SRV=$!; PIDS+=("$SRV")
  for _ in $(seq 50); do nsx ss -Hlnu "sport = :69" | grep -q . && return 0; sleep 0.1; done
  echo "$1 did not start" >&2; cat "$W/srv.log" >&2; exit 1
}
stop() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; }
mkdir -p "$CG"
# Server CPU so far, in nanoseconds.
ticks() { cat "$CG/cpuacct.usage"; }
cmd() {  # cmd CLIENT FILE DEST
  case $1 in
    curl-512)       echo "curl -sS -o $3 tftp://127.0.0.1/$2" ;;
    curl-1468)      echo "curl -sS --tftp-blksize 1468 -o $3 tftp://127.0.0.1/$2" ;;
    atftp-1468-w16) echo "atftp --option 'blksize 1468' --option 'windowsize 16' -g -r $2 -l $3 127.0.0.1 69" ;;
  esac
}
echo "server,client,file,run,bytes_ok,seconds,MBps,server_cpu_ms_per_MB,pinned" > "$OUT"
record() {  # server client file run ok seconds cpu_ns
  awk -v s="$1" -v c="$2" -v f="$3" -v n="$4" -v ok="$5" -v sec="$6" -v t="$7" -v pin="${PIN_CPU:-}" \
    'BEGIN{mb=ok/1e6; printf "%s,%s,%s,%s,%d,%.4f,%.2f,%.2f,%s\n", s,c,f,n,ok,sec,(sec>0?mb/sec:0),(mb>0?t/1e6/mb:0),pin}' | tee -a "$OUT"
}

for n in $(seq "$REPEATS"); do
  for s in recon tftpd-hpa dnsmasq; do
    start "$s"
    for f in $FILES; do
      size=$(stat -c %s "$W/root/f$f")
      for c in curl-512 curl-1468 atftp-1468-w16; do
        rm -f "$W/dl/out"
        t0=$(ticks "$SRV")
        read -r ts te < <(nsx timeout 300 bash -c "s=\$EPOCHREALTIME; ${PIN[*]} $(cmd $c f$f $W/dl/out) >/dev/null 2>&1; echo \$s \$EPOCHREALTIME")
        t1=$(ticks "$SRV")
        ok=0; cmp -s "$W/dl/out" "$W/root/f$f" && ok=$size
        record "$s" "$c" "$f" "$n" "$ok" "$(echo "$te - $ts" | bc)" $((t1 - t0))
      done
      # CONC clients at once.
      rm -f "$W/dl"/out*
      t0=$(ticks "$SRV"); ts=$EPOCHREALTIME; pids=()
      for i in $(seq "$CONC"); do
        nsx timeout 300 bash -c "${PIN[*]} $(cmd curl-1468 f$f $W/dl/out$i)" >/dev/null 2>&1 & pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p"; done
      te=$EPOCHREALTIME; t1=$(ticks "$SRV")
      okb=0; for i in $(seq "$CONC"); do cmp -s "$W/dl/out$i" "$W/root/f$f" && okb=$((okb + size)); done
      record "$s" "${CONC}x-curl-1468" "$f" "$n" "$okb" "$(echo "$te - $ts" | bc)" $((t1 - t0))
      rm -f "$W/dl"/out*
    done
    stop
  done
done

python3 - "$OUT" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cell = {}
for r in rows:
    cell.setdefault((r["client"], r["file"], r["server"]), []).append(r)
keys = sorted({(c, f) for c, f, _ in cell}, key=lambda k: (k[1], k[0]))
print(f"\n{'client':<16} {'file':<5} {'recon MB/s':>11} {'tftpd-hpa':>10} {'dnsmasq':>9} {'vs hpa':>7}  cpu ms/MB recon / hpa / dnsmasq")
for c, f in keys:
    med = {}; cpu = {}
    for s in ("recon", "tftpd-hpa", "dnsmasq"):
        rs = cell.get((c, f, s), [])
        med[s] = statistics.median(float(r["MBps"]) for r in rs) if rs else 0.0
        cpu[s] = statistics.median(float(r["server_cpu_ms_per_MB"]) for r in rs) if rs else 0.0
    ratio = med["recon"] / med["tftpd-hpa"] if med["tftpd-hpa"] else float("inf")
    print(f"{c:<16} {f:<5} {med['recon']:>11.1f} {med['tftpd-hpa']:>10.1f} {med['dnsmasq']:>9.1f} {ratio:>6.2f}x  "
          f"{cpu['recon']:.1f} / {cpu['tftpd-hpa']:.1f} / {cpu['dnsmasq']:.1f}")
print(f"\n(raw: {sys.argv[1]})")
PY
