#!/bin/bash
# HTTP download throughput: recon httpd against nginx 1.22 and Apache 2.4 (mpm_event), the same
# file, the same curl client, runs interleaved server by server.
#
#   bench/http.sh
#
# Everything runs in two network namespaces this script creates, joined by a veth pair on
# private addresses (server 10.83.0.1, clients 10.83.0.2, MTU 1500 as on a rack's Ethernet);
# nothing touches the host's network. The file: SIZE random octets in a tmpfs. Each server
# sends it with sendfile (recon always; nginx `sendfile on; tcp_nopush on;`; Apache
# `EnableSendfile On`), access logs off for the peers (recon logs a line per request, as it
# always does), two workers each (recon --workers 2, nginx worker_processes 2, Apache's
# event MPM with threads in two processes).
#   single   SINGLE curls one after another, one download each, -o /dev/null: one download lasts
#            a quarter second here, too short to measure alone, and its speed depends on where
#            the scheduler puts curl (beside the server's thread or not, settled per connection)
#   Nx       CONC curls at once, aggregate MB/s over the wall time until the last finishes
# A download counts only if curl saw 200 and SIZE octets; one more per server and repeat,
# untimed, is piped through sha256sum and must match the file, or that server's runs count 0.
# Reported: median MB/s (1e6 B/s) over REPEATS, the ratio to the better of nginx and Apache,
# and the server's CPU time per MB (cgroup cpuacct, children included).
#
# Env: REPEATS=3 SIZE=500M CONC=50 SINGLE=5 SERVERS="recon nginx apache" OUT=bench/results/http-<stamp>.csv
#   RECON=path (default: target/release/recon, built here); RECON_B=path adds the server
#   `recon-b` (that binary, as `recon`) to SERVERS, for an A/B of two builds run interleaved.
#   PIN=1: every server on CPU 0 and every curl on CPU 1 (taskset), so that no run depends on
#   where the scheduler puts curl: what is left is the server's own speed on one CPU.
#   SYSCALLS=1: after the timed runs, one more single and one more CONC download per server
#   under `perf trace -s`, the syscall summaries in <OUT>-syscalls-<server>-<test>.txt.
# Needs root, curl, python3, and the nginx, apache2-bin, libapr1 and libaprutil1 .debs
# (downloaded with apt-get download and unpacked under bench/.pkgs, never installed: their
# packages would start services on the host).
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/http.sh: run as root" >&2; exit 1; }
REPEATS=${REPEATS:-3}
SIZE=${SIZE:-500M}
CONC=${CONC:-50}
SINGLE=${SINGLE:-5}
SERVERS=${SERVERS:-"recon nginx apache"}
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-bench/results/http-$STAMP.csv}
W=$(mktemp -d /tmp/recon-bench-http.XXXXXX)
NS=recon-bench-hsrv-$$
NC=recon-bench-hcli-$$
SRV_IP=10.83.0.1
CG=/sys/fs/cgroup/cpuacct/recon-bench-http-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  ip netns del "$NS" 2>/dev/null
  ip netns del "$NC" 2>/dev/null
  umount "$W/root" 2>/dev/null
  rmdir "$CG" 2>/dev/null
  rm -rf "$W"
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
SYSCALLS=${SYSCALLS:-0}
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
# The peers' workers run as nobody: they must reach the files.
chmod 755 "$W"
mkdir -p "$W/root" "$W/nginx" "$W/apache"
mount -t tmpfs -o size=1g recon-bench-http "$W/root"
head -c "$SIZE" /dev/urandom > "$W/root/f"
chmod 755 "$W/root"; chmod 644 "$W/root/f"
BYTES=$(stat -c %s "$W/root/f")
WANT=$(sha256sum "$W/root/f" | cut -d' ' -f1)

cat > "$W/nginx.conf" <<EOF
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
  server { listen $SRV_IP:80; root $W/root; }
}
EOF
cat > "$W/apache.conf" <<EOF
ServerRoot $W/apache
ServerName bench
Listen $SRV_IP:80
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
EOF

nsx() { ip netns exec "$NS" "$@"; }
PIN=${PIN:-0}
SRV_CPU=(); CLI_CPU=()
[ "$PIN" = 1 ] && SRV_CPU=(taskset -c 0) && CLI_CPU=(taskset -c 1)
ncx() { ip netns exec "$NC" "${CLI_CPU[@]}" "$@"; }
SRV=
start() {
  # bash joins the cgroup and execs `ip netns exec`, which execs the server: $! is its PID.
  local run=(bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "${SRV_CPU[@]}" ip netns exec "$NS")
  case $1 in
    # recon1, not in the default list: one thread, to see what the second worker buys.
    recon|recon-b|recon1)
      local bin=$RECON workers=2
      [ "$1" = recon-b ] && bin=$RECON_B
      [ "$1" = recon1 ] && workers=1
      "${run[@]}" "$bin" httpd --boot "$W/root" --data "$W/data" --listen $SRV_IP:80 --workers $workers \
        > "$W/srv.log" 2>&1 & ;;
    nginx)  "${run[@]}" "$NGINX" -e "$W/nginx/error.log" -p "$W/nginx" -c "$W/nginx.conf" -g 'daemon off;' \
              > "$W/srv.log" 2>&1 & ;;
    apache) "${run[@]}" env LD_LIBRARY_PATH="$APLIB" "$APACHE" -f "$W/apache.conf" -DFOREGROUND \
              > "$W/srv.log" 2>&1 & ;;
  esac
  SRV=$!; PIDS+=("$SRV")
  for _ in $(seq 50); do nsx ss -Hltn "sport = :80" | grep -q . && sleep 0.3 && return 0; sleep 0.1; done
  echo "$1 did not start" >&2; cat "$W/srv.log" "$W"/*/error.log >&2 2>/dev/null; exit 1
}
stop() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; sleep 0.3; }
mkdir -p "$CG"
ticks() { cat "$CG/cpuacct.usage"; }
echo "server,test,run,bytes_ok,seconds,MBps,server_cpu_ms_per_MB" > "$OUT"
record() {  # server test run ok seconds cpu_ns
  awk -v s="$1" -v c="$2" -v n="$3" -v ok="$4" -v sec="$5" -v t="$6" \
    'BEGIN{mb=ok/1e6; printf "%s,%s,%s,%.0f,%.4f,%.2f,%.2f\n", s,c,n,ok,sec,(sec>0?mb/sec:0),(mb>0?t/1e6/mb:0)}' | tee -a "$OUT"
}
URL=http://$SRV_IP/f
# One download, its status and size on stdout.
get() { ncx curl -s --max-time 600 -o /dev/null -w '%{http_code} %{size_download}\n' "$URL"; }
# SINGLE downloads one after another, a status and size line each.
get_seq() { for _ in $(seq "$SINGLE"); do get; done; }

for n in $(seq "$REPEATS"); do
  for s in $SERVERS; do
    start "$s"
    # Untimed: the octets are the file's.
    got=$(ncx curl -s --max-time 600 "$URL" | sha256sum | cut -d' ' -f1)
    verified=1; [ "$got" = "$WANT" ] || { verified=0; echo "$s: checksum mismatch" >&2; }
    t0=$(ticks); ts=$EPOCHREALTIME
    r=$(get_seq)
    te=$EPOCHREALTIME; t1=$(ticks)
    ok=$(( $(grep -cx "200 $BYTES" <<< "$r") * BYTES * verified ))
    record "$s" single "$n" "$ok" "$(echo "$te - $ts" | bc)" $((t1 - t0))
    rm -f "$W"/c.*
    t0=$(ticks); ts=$EPOCHREALTIME; pids=()
    for i in $(seq "$CONC"); do get > "$W/c.$i" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
    te=$EPOCHREALTIME; t1=$(ticks)
    okb=0; for i in $(seq "$CONC"); do [ "$(cat "$W/c.$i")" = "200 $BYTES" ] && okb=$((okb + BYTES * verified)); done
    record "$s" "${CONC}x" "$n" "$okb" "$(echo "$te - $ts" | bc)" $((t1 - t0))
    stop
  done
done

# Where each server's system calls go: one more download of each kind under perf trace.
if [ "$SYSCALLS" = 1 ]; then
  command -v perf >/dev/null || { echo "SYSCALLS=1 needs perf (apt-get install linux-perf)" >&2; exit 1; }
  for s in $SERVERS; do
    start "$s"
    for t in single "${CONC}x"; do
      f=${OUT%.csv}-syscalls-$s-$t.txt
      perf trace -s -p "$(paste -sd, "$CG/cgroup.procs")" -o "$f" & tp=$!; PIDS+=("$tp")
      sleep 2  # perf trace attaches
      if [ "$t" = single ]; then get > /dev/null; else
        cp=(); for i in $(seq "$CONC"); do get > /dev/null & cp+=($!); done
        for p in "${cp[@]}"; do wait "$p"; done
      fi
      kill -INT "$tp"; wait "$tp"
      echo "$s $t: $(awk '/ events, /{n+=$(NF-2)} END{print n}' "$f") events traced, summary in $f"
    done
    stop
  done
fi

python3 - "$OUT" "$SIZE" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cell = {}
for r in rows:
    cell.setdefault((r["test"], r["server"]), []).append(r)
tests = sorted({t for t, _ in cell}, key=lambda t: (t != "single", t))
print(f"\nfile {sys.argv[2]}; median of {max(len(v) for v in cell.values())} runs")
print(f"{'test':<8} {'recon MB/s':>11} {'nginx':>8} {'apache':>8} {'vs better':>10}  cpu ms/MB recon / nginx / apache")
for t in tests:
    med = {}; cpu = {}
    for s in ("recon", "nginx", "apache", "recon1", "recon-b"):
        rs = cell.get((t, s), [])
        med[s] = statistics.median(float(r["MBps"]) for r in rs) if rs else 0.0
        cpu[s] = statistics.median(float(r["server_cpu_ms_per_MB"]) for r in rs) if rs else 0.0
    best = max(med["nginx"], med["apache"])
    ratio = med["recon"] / best if best else float("inf")
    print(f"{t:<8} {med['recon']:>11.1f} {med['nginx']:>8.1f} {med['apache']:>8.1f} {ratio:>9.2f}x  "
          f"{cpu['recon']:.2f} / {cpu['nginx']:.2f} / {cpu['apache']:.2f}"
          + (f"   (recon --workers 1: {med['recon1']:.1f} MB/s, {cpu['recon1']:.2f} ms/MB)" if med["recon1"] else "")
          + (f"   (recon-b: {med['recon-b']:.1f} MB/s, {cpu['recon-b']:.2f} ms/MB)" if med["recon-b"] else ""))
print(f"\n(raw: {sys.argv[1]})")
PY
