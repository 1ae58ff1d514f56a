#!/bin/bash
# HTTP download throughput: recon httpd against nginx 1.22 and Apache 2.4 (mpm_event), the same
# file, the same curl client, the servers up side by side and the downloads interleaved.
#
#   bench/http.sh
#
# Everything runs in two network namespaces this script creates, joined by a veth pair on
# private addresses (server 10.83.0.1, clients 10.83.0.2, MTU 1500 as on a rack's Ethernet);
# nothing touches the host's network. The file: SIZE random octets in a tmpfs. Each server
# sends it with sendfile (recon always; nginx `sendfile on; tcp_nopush on;`; Apache
# `EnableSendfile On`), access logs off for the peers (recon logs a line per request, as it
# always does), each server's threads as it would run here: recon its default workers (four
# per CPU), nginx worker_processes 2 (one per CPU, as `auto`), Apache's event MPM with up to
# 64 threads in each of two processes. Every server listens at once, each on its own
# port and in its own cgroup, so that all of them see the same machine state: the downloads
# take turns, server by server, the order rotating every round.
#   single   ROUNDS rounds of one download per server, -o /dev/null, MB/s per download. One
#            download lasts a tenth of a second here and its speed spreads by a fifth either
#            way for every server alike (more under bbr; bench/README.md "http.sh"), so it
#            takes many, interleaved, to compare.
#   Nx       REPEATS rounds of CONC curls at once per server, aggregate MB/s over the wall time
#            until the last finishes
# A download counts only if curl saw 200 and SIZE octets; one more per server, untimed, is
# piped through sha256sum first and must match the file, or that server's runs count 0.
# Reported: median MB/s, the ratio to the better of nginx and Apache (with a 95 % bootstrap
# interval), the server's CPU time per MB (cgroup cpuacct, children included), each server's
# memory after the runs (Pss summed over its processes), and, paired by round, the geometric
# mean of recon's speed over each peer's (and each extra build's over recon's): downloads of
# one round share the machine's state, so these intervals are narrower than the medians'.
# Series still disagree by more than that; bench/http-pool.py pools several series' CSVs.
# For one download, also the TCP segments the server's namespace received during it (curl's
# ACKs, column segments_in): in four of seven series the downloads with fewer ran 6-30 %
# faster, for every server alike (bench/README.md "http.sh", "Pooled"), so the report
# also gives each server's median on either side of the median count.
#
# Env: ROUNDS=40 REPEATS=3 SIZE=500M CONC=50 SERVERS="recon nginx apache" CC=cubic
#   OUT=bench/results/http-<stamp>.csv
#   RECON=path (default: target/release/recon, built here); RECON_B=path adds the server
#   `recon-b` (that binary, as `recon`) to SERVERS, for an A/B of two builds run interleaved,
#   and RECON_C=path a third, `recon-c`;
#   `recon1` in SERVERS is recon with one worker.
#   PIN=1: every server on CPU 0 and every curl on CPU 1 (taskset), and each namespace's veth
#   receive work on its own side's CPU (rps_cpus), as on two hosts, so that no run depends on
#   where the scheduler puts curl: what is left is the server's own speed on one CPU.
#   CC=cubic: the TCP congestion control every server's sockets use (the namespaces' default),
#   cubic, Linux's own default, which the Debian and openSUSE kernels of recon's live images
#   keep; CC=host keeps this machine's default. A namespace may only default to an algorithm
#   the host allows (net.ipv4.tcp_allowed_congestion_control), so CC is added to that list
#   while the script runs and the list is put back on exit. Under bbr (this machine's default)
#   every server ran at about half the speed (bench/README.md "http.sh").
#   SYSCALLS=1: after the timed runs, one more single and one more CONC download per server
#   under `perf trace -s`, the syscall summaries in <OUT>-syscalls-<server>-<test>.txt.
#   PROFILE=1: after the timed runs, 20 more single downloads in a row and one more CONC
#   download per server under `perf record -a` (cpu-clock, every CPU: the server, curl and the
#   softirq work between them), samples by process and by symbol in
#   <OUT>-profile-<server>-<test>.txt (and .data, for perf report).
# Needs root, curl, python3, and the nginx, apache2-bin, libapr1 and libaprutil1 .debs
# (downloaded with apt-get download and unpacked under bench/.pkgs, never installed: their
# packages would start services on the host).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
[ "$(id -u)" = 0 ] || { echo "bench/http.sh: run as root" >&2; exit 1; }
REPEATS=${REPEATS:-3}
SIZE=${SIZE:-500M}
CONC=${CONC:-50}
ROUNDS=${ROUNDS:-40}
SERVERS=${SERVERS:-"recon nginx apache"}
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-bench/results/http-$STAMP.csv}
W=$(mktemp -d /tmp/recon-bench-http.XXXXXX)
NS=recon-bench-hsrv-$$
NC=recon-bench-hcli-$$
SRV_IP=10.83.0.1
CG=/sys/fs/cgroup/cpuacct/recon-bench-http-$$  # one cgroup per server below it
PIDS=()
ALLOWED=""  # the host's allowed congestion controls, to put back on exit
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  ip netns del "$NS" 2>/dev/null
  ip netns del "$NC" 2>/dev/null
  umount "$W/root" 2>/dev/null
  rmdir "$CG"/*/ "$CG" 2>/dev/null
  rm -rf "$W"
  if [ -n "$ALLOWED" ]; then sysctl -qw net.ipv4.tcp_allowed_congestion_control="$ALLOWED"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for c in curl python3 sha256sum; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
if [ -z "${RECON:-}" ]; then
  cargo build --release --locked -p agent >/dev/null 2>&1 || { echo "cargo build failed" >&2; exit 1; }
  RECON=${CARGO_TARGET_DIR:-$PWD/target}/release/recon
fi
RECON_B=${RECON_B:-}
[ -n "$RECON_B" ] && SERVERS="$SERVERS recon-b"
RECON_C=${RECON_C:-}
[ -n "$RECON_C" ] && SERVERS="$SERVERS recon-c"
SYSCALLS=${SYSCALLS:-0}
PROFILE=${PROFILE:-0}
mkdir -p bench/.pkgs "$(dirname "$OUT")"
for p in nginx apache2-bin libapr1 libaprutil1; do
  [ -d "bench/.pkgs/$p" ] && continue
  (cd bench/.pkgs && apt-get download "$p" >/dev/null 2>&1 && dpkg-deb -x "${p}"_*.deb "$p") \
    || { echo "could not fetch the Debian package $p (apt-get download $p)" >&2; exit 1; }
done
P=$PWD/bench/.pkgs
NGINX=$P/nginx/usr/sbin/nginx
APACHE=$P/apache2-bin/usr/sbin/apache2
APMOD=$P/apache2-bin/usr/lib/apache2/modules
APLIB=$P/libapr1/usr/lib/x86_64-linux-gnu:$P/libaprutil1/usr/lib/x86_64-linux-gnu

ip netns add "$NS"; ip netns add "$NC"
ip -n "$NS" link set lo up; ip -n "$NC" link set lo up
ip link add hb$$ netns "$NS" type veth peer name hc$$ netns "$NC"
ip -n "$NS" link set hb$$ name hs0; ip -n "$NC" link set hc$$ name hc0
ip -n "$NS" addr add $SRV_IP/24 dev hs0; ip -n "$NC" addr add 10.83.0.2/24 dev hc0
ip -n "$NS" link set hs0 up; ip -n "$NC" link set hc0 up
CC=${CC:-cubic}
if [ "$CC" != host ]; then
  ALLOWED=$(sysctl -n net.ipv4.tcp_allowed_congestion_control) || exit 1
  case " $ALLOWED " in *" $CC "*) ALLOWED="" ;;
    *) sysctl -qw net.ipv4.tcp_allowed_congestion_control="$ALLOWED $CC" \
         || { ALLOWED=""; echo "congestion control $CC is not available here" >&2; exit 1; } ;;
  esac
  for n in "$NS" "$NC"; do
    ip netns exec "$n" sysctl -qw net.ipv4.tcp_congestion_control="$CC" \
      || { echo "could not make $CC the namespaces' congestion control" >&2; exit 1; }
  done
fi
CC_USED=$(ip netns exec "$NS" sysctl -n net.ipv4.tcp_congestion_control)
echo "congestion control: $CC_USED" >&2
PIN=${PIN:-0}
if [ "$PIN" = 1 ]; then
  # Each side's receive work on its own CPU, as on two hosts: a veth hands a packet to the
  # backlog of the CPU that sent it, so without this one stream is received on both CPUs,
  # out of order (spurious fast retransmits), and curl's speed depends on which CPU did it.
  ip netns exec "$NS" sh -c 'echo 1 > /sys/class/net/hs0/queues/rx-0/rps_cpus' \
    && ip netns exec "$NC" sh -c 'echo 2 > /sys/class/net/hc0/queues/rx-0/rps_cpus' \
    || { echo "could not steer the veth's receive work (rps_cpus)" >&2; exit 1; }
fi
# The peers' workers run as nobody: they must reach the files.
chmod 755 "$W"
mkdir -p "$W/root" "$W/nginx" "$W/apache"
mount -t tmpfs -o size=1g recon-bench-http "$W/root"
head -c "$SIZE" /dev/urandom > "$W/root/f"
chmod 755 "$W/root"; chmod 644 "$W/root/f"
BYTES=$(stat -c %s "$W/root/f")
WANT=$(sha256sum "$W/root/f" | cut -d' ' -f1)

# Each server's port: 8001, 8002, ... in the order of SERVERS.
declare -A PORT
i=0; for s in $SERVERS; do i=$((i + 1)); PORT[$s]=$((8000 + i)); done

cat > "$W/nginx.conf" <<EOF2
worker_processes 2;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 60;
  default_type application/octet-stream;
  client_body_temp_path $W/nginx/body;
  proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fastcgi;
  uwsgi_temp_path $W/nginx/uwsgi;
  scgi_temp_path $W/nginx/scgi;
  server { listen $SRV_IP:${PORT[nginx]:-0}; root $W/root; }
}
EOF2
cat > "$W/apache.conf" <<EOF2
ServerRoot $W/apache
ServerName bench
Listen $SRV_IP:${PORT[apache]:-0}
LoadModule mpm_event_module $APMOD/mod_mpm_event.so
LoadModule authz_core_module $APMOD/mod_authz_core.so
User nobody
Group nogroup
PidFile $W/apache/apache.pid
DefaultRuntimeDir $W/apache
ErrorLog $W/apache/error.log
DocumentRoot $W/root
<Directory $W/root>
  Require all granted
</Directory>
EnableSendfile On
EnableMMAP On
KeepAlive On
StartServers 2
ServerLimit 2
ThreadsPerChild 64
ThreadLimit 64
MaxRequestWorkers 128
EOF2

nsx() { ip netns exec "$NS" "$@"; }
SRV_CPU=(); CLI_CPU=()
[ "$PIN" = 1 ] && SRV_CPU=(taskset -c 0) && CLI_CPU=(taskset -c 1)
ncx() { ip netns exec "$NC" "${CLI_CPU[@]}" "$@"; }
start() {
  local port=${PORT[$1]} cg=$CG/$1
  mkdir -p "$cg"
  # bash joins the server's cgroup and execs `ip netns exec`, which execs the server.
  local run=(bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "${SRV_CPU[@]}" ip netns exec "$NS")
  case $1 in
    recon|recon-b|recon-c|recon1)
      local bin=$RECON workers=()
      [ "$1" = recon-b ] && bin=$RECON_B
      [ "$1" = recon-c ] && bin=$RECON_C
      [ "$1" = recon1 ] && workers=(--workers 1)
      "${run[@]}" "$bin" httpd --boot "$W/root" --data "$W/data-$1" --listen "$SRV_IP:$port" "${workers[@]}" \
        > "$W/srv-$1.log" 2>&1 & ;;
    nginx)  "${run[@]}" "$NGINX" -e "$W/nginx/error.log" -p "$W/nginx" -c "$W/nginx.conf" -g 'daemon off;' \
              > "$W/srv-$1.log" 2>&1 & ;;
    apache) "${run[@]}" env LD_LIBRARY_PATH="$APLIB" "$APACHE" -f "$W/apache.conf" -DFOREGROUND \
              > "$W/srv-$1.log" 2>&1 & ;;
    *) echo "unknown server $1" >&2; exit 1 ;;
  esac
  PIDS+=($!)
  for _ in $(seq 50); do nsx ss -Hltn "sport = :$port" | grep -q . && sleep 0.3 && return 0; sleep 0.1; done
  echo "$1 did not start" >&2; cat "$W/srv-$1.log" "$W"/*/error.log >&2 2>/dev/null; exit 1
}
ticks() { cat "$CG/$1/cpuacct.usage"; }
echo "server,test,run,bytes_ok,seconds,MBps,server_cpu_ms_per_MB,segments_in" > "$OUT"
record() {  # server test run ok seconds cpu_ns segments_in
  awk -v s="$1" -v c="$2" -v n="$3" -v ok="$4" -v sec="$5" -v t="$6" -v a="$7" \
    'BEGIN{mb=ok/1e6; printf "%s,%s,%s,%.0f,%.4f,%.2f,%.2f,%s\n", s,c,n,ok,sec,(sec>0?mb/sec:0),(mb>0?t/1e6/mb:0),a}' >> "$OUT"
}
# TCP segments the server namespace received (nstat, its own history file): for one download,
# curl's ACKs (and its request, SYN and FIN). Read outside the timed span.
segs_in() { NSTAT_HISTORY=$W/nstat ip netns exec "$NS" nstat -z TcpInSegs | awk '$1 == "TcpInSegs" {print $2}'; }
url() { echo "http://$SRV_IP:${PORT[$1]}/f"; }
# One download from server $1: its status, size and seconds (curl's own clock, from before the
# connection to the last octet, so without the cost of starting curl) on stdout.
get() { ncx curl -s --max-time 600 -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' "$(url "$1")"; }
# The servers in round $1's order: SERVERS rotated by the round number.
order() { local a n; read -ra a <<< "$SERVERS"; n=${#a[@]}; for k in $(seq 0 $((n - 1))); do echo "${a[$(( (k + $1) % n ))]}"; done; }

mkdir -p "$CG"
declare -A VERIFIED
for s in $SERVERS; do
  start "$s"
  # Untimed: the octets are the file's.
  got=$(ncx curl -s --max-time 600 "$(url "$s")" | sha256sum | cut -d' ' -f1)
  VERIFIED[$s]=1; [ "$got" = "$WANT" ] || { VERIFIED[$s]=0; echo "$s: checksum mismatch" >&2; }
done

timed() {  # server test run cmd...: runs cmd, counts the complete downloads it reports
  local s=$1 t=$2 n=$3; shift 3
  local t0 t1 ts te r sec
  segs_in > /dev/null
  t0=$(ticks "$s"); ts=$EPOCHREALTIME
  r=$("$@")
  te=$EPOCHREALTIME; t1=$(ticks "$s")
  local segs; segs=$(segs_in)
  # One download: curl's time; several at once: the wall time until the last ended.
  if [ "$t" = single ]; then sec=$(cut -d' ' -f3 <<< "$r"); else sec=$(echo "$te - $ts" | bc); fi
  record "$s" "$t" "$n" $(( $(grep -c "^200 $BYTES " <<< "$r") * BYTES * VERIFIED[$s] )) "$sec" $((t1 - t0)) "$segs"
}
many() {  # CONC downloads from server $1 at once
  local pids=() i
  for i in $(seq "$CONC"); do get "$1" > "$W/c.$i" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  cat "$W"/c.*; rm -f "$W"/c.*
}
for n in $(seq "$ROUNDS"); do
  for s in $(order "$n"); do timed "$s" single "$n" get "$s"; done
  [ $((n % 10)) = 0 ] && echo "single: $n of $ROUNDS rounds" >&2
done
for n in $(seq "$REPEATS"); do
  for s in $(order "$n"); do timed "$s" "${CONC}x" "$n" many "$s"; done
  echo "${CONC}x: $n of $REPEATS rounds" >&2
done

# Where each server's system calls go: one more download of each kind under perf trace.
if [ "$SYSCALLS" = 1 ]; then
  command -v perf >/dev/null || { echo "SYSCALLS=1 needs perf (apt-get install linux-perf)" >&2; exit 1; }
  for s in $SERVERS; do
    for t in single "${CONC}x"; do
      f=${OUT%.csv}-syscalls-$s-$t.txt
      perf trace -s -p "$(paste -sd, "$CG/$s/cgroup.procs")" -o "$f" & tp=$!; PIDS+=("$tp")
      sleep 2  # perf trace attaches
      if [ "$t" = single ]; then get "$s" > /dev/null; else many "$s" > /dev/null; fi
      kill -INT "$tp"; wait "$tp"
      echo "$s $t: $(awk '/ events, /{n+=$(NF-2)} END{print n}' "$f") events traced, summary in $f"
    done
  done
fi

# Where the machine's time goes while each server sends: samples on every CPU.
if [ "$PROFILE" = 1 ]; then
  command -v perf >/dev/null || { echo "PROFILE=1 needs perf (apt-get install linux-perf)" >&2; exit 1; }
  for s in $SERVERS; do
    for t in single "${CONC}x"; do
      f=${OUT%.csv}-profile-$s-$t
      perf record -q -e cpu-clock -F 999 -a -g -o "$f.data" & tp=$!; PIDS+=("$tp")
      sleep 2  # perf record attaches
      if [ "$t" = single ]; then for _ in $(seq 20); do get "$s" > /dev/null; done; else many "$s" > /dev/null; fi
      kill -INT "$tp"; wait "$tp"
      { echo "== samples by process"
        perf report -i "$f.data" --no-children --sort comm -F sample,overhead,comm --stdio -g none 2>/dev/null | grep -v '^#' | grep . | head -12
        echo "== samples by process and symbol"
        perf report -i "$f.data" --no-children --sort comm,sym -F sample,overhead,comm,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep . | head -80
      } > "$f.txt"
      echo "$s $t: profile in $f.txt"
    done
  done
fi

# Memory after the runs: each server's proportional set size (Pss: a page shared by its
# processes counted once), summed over its processes, KiB.
for s in $SERVERS; do
  echo "$s $(for p in $(cat "$CG/$s/cgroup.procs"); do awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup"; done |
    awk '{k+=$1} END{print k+0}')"
done > "$W/pss"

python3 - "$OUT" "$SIZE" "$CC_USED" "$W/pss" <<'PY'
import csv, importlib.util, math, random, statistics, sys
spec = importlib.util.spec_from_file_location("http_pool", "bench/http-pool.py")
pool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pool)
pss = dict(l.split() for l in open(sys.argv[4]))
rows = list(csv.DictReader(open(sys.argv[1])))
cell = {}
for r in rows:
    cell.setdefault((r["test"], r["server"]), []).append(r)
tests = sorted({t for t, _ in cell}, key=lambda t: (t != "single", t))
extra = [s for s in ("recon1", "recon-b", "recon-c") if any(k[1] == s for k in cell)]
rng = random.Random(1)

def ratio_interval(a, peers, n=2000):
    """95 % bootstrap interval of median(a) / the best of the peers' medians."""
    out = []
    for _ in range(n):
        best = max(statistics.median(rng.choices(p, k=len(p))) for p in peers)
        out.append(statistics.median(rng.choices(a, k=len(a))) / best)
    out.sort()
    return out[int(0.025 * n)], out[int(0.975 * n) - 1]

def vs_better(a, peers, best):
    """median(a) / the better peer's median and its 95 % interval; None if nothing to compare."""
    if not (a and peers and best):
        return None
    return (statistics.median(a) / best, *ratio_interval(a, peers))

def shown(v):
    return f"{v[0]:.2f}x ({v[1]:.2f}-{v[2]:.2f}x)" if v else ""

print(f"\nfile {sys.argv[2]}, congestion control {sys.argv[3]}; median MB/s, runs per cell: "
      + ", ".join(f"{t} {max(len(v) for k, v in cell.items() if k[0] == t)}" for t in tests))
print(f"{'test':<8} {'recon':>8} {'nginx':>8} {'apache':>8} {'vs better':>10} {'95 % interval':>14}  "
      "cpu ms/MB recon / nginx / apache" + "".join(f"   {s}" for s in extra))
for t in tests:
    mbps = {s: [float(r["MBps"]) for r in cell.get((t, s), [])] for s in ("recon", "nginx", "apache", *extra)}
    med = {s: statistics.median(v) if v else 0.0 for s, v in mbps.items()}
    cpu = {s: statistics.median(float(r["server_cpu_ms_per_MB"]) for r in cell[(t, s)]) if (t, s) in cell else 0.0
           for s in mbps}
    peers = [mbps[s] for s in ("nginx", "apache") if mbps[s]]
    best = max((med[s] for s in ("nginx", "apache")), default=0.0)
    ratio = med["recon"] / best if best else float("inf")
    _, lo, hi = vs_better(mbps["recon"], peers, best) or (0, 0, 0)
    print(f"{t:<8} {med['recon']:>8.1f} {med['nginx']:>8.1f} {med['apache']:>8.1f} {ratio:>9.2f}x "
          f"{f'{lo:.2f}-{hi:.2f}x':>14}  {cpu['recon']:.2f} / {cpu['nginx']:.2f} / {cpu['apache']:.2f}"
          + "".join(f"   {med[s]:.1f} MB/s {shown(vs_better(mbps[s], peers, best))} {cpu[s]:.2f} ms/MB" for s in extra))

def paired(t, s, peer):
    """Geometric mean of s/peer over the rounds both ran in (same round, so the same machine
    state), with a 95 % interval; None with fewer than three rounds."""
    a = {r["run"]: float(r["MBps"]) for r in cell.get((t, s), [])}
    b = {r["run"]: float(r["MBps"]) for r in cell.get((t, peer), [])}
    logs = [math.log(a[k] / b[k]) for k in a if k in b and a[k] > 0 and b[k] > 0]
    # Student's t (a few rounds of CONC downloads are a small sample), as http-pool.py does.
    return pool.interval(logs) if len(logs) >= 3 else None

print("paired, per round (geometric mean of the ratios of downloads run in the same round, 95 %):")
for t in tests:
    pairs = [(s, p) for s in ("recon", *extra) for p in ("nginx", "apache") + (("recon",) if s != "recon" else ())]
    got = [f"{s}/{p} {shown(v)}" for s, p in pairs if (v := paired(t, s, p))]
    if got:
        print(f"  {t}: " + ", ".join(got))
# How often curl ACKed (the segments the server received) went with one download's speed in
# several series, for every server alike: split at the median count, each server's median
# speed on either side shows whether a lead is the server's or the draw's.
single = [r for r in rows if r["test"] == "single" and r.get("segments_in") and float(r["MBps"]) > 0]
if single:
    cut = statistics.median(int(r["segments_in"]) for r in single)
    def way(rs):
        return f"{statistics.median(float(r['MBps']) for r in rs):.0f} MB/s ({len(rs)})" if rs else "-"
    servers = [s for s in ("recon", "nginx", "apache", *extra) if any(r["server"] == s for r in single)]
    print(f"single, split by the segments the server received (curl's ACKs), at their median {cut:.0f}: "
          "median MB/s (downloads)")
    for side, keep in (("fewer", lambda a: a < cut), ("as many or more", lambda a: a >= cut)):
        print(f"  {side}: " + ", ".join(
            f"{s} {way([r for r in single if r['server'] == s and keep(int(r['segments_in']))])}" for s in servers))
print("memory after the runs, Pss KiB (all the server's processes): "
      + ", ".join(f"{s} {int(v):,}".replace(",", " ") for s, v in pss.items()))
print(f"\n(raw: {sys.argv[1]})")
PY
