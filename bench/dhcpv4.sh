#!/bin/bash
# DHCPv4 codec benchmark: parse a real PXE/iPXE request and build the reply, recon vs dhcproto.
#   1. criterion wall-clock times (noisy on a shared 2-core VM; read them as a range), and the
#      allocations per packet of each path (recon must have none);
#   2. instructions per packet under callgrind, which do not depend on the machine's load:
#      the difference between runs of N and 2N iterations, divided by N, per case and path.
# Prints a table of both with recon's ratio to dhcproto. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MEASURE:=5}"
command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)" >&2; exit 1; }

cargo bench -p netboot-proto --bench dhcpv4 -- --warm-up-time 2 --measurement-time "$MEASURE" | tee /tmp/dhcpv4-bench.log
bin=$(cargo bench -p netboot-proto --bench dhcpv4 --no-run --message-format=json 2>/dev/null \
      | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="dhcpv4" and m.get("executable"): print(m["executable"])')

count() {  # count CASE PATH N -> instructions of the whole run
  (cd netboot-proto && DHCPV4_CASE=$1 DHCPV4_PATH=$2 DHCPV4_LOOP=$3 \
     valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 | awk '/refs:/ {gsub(",","",$4); print $4}')
}
N=1000
printf '\n%-22s %12s %12s %8s %12s %12s %8s\n' case recon_ns dhcproto_ns ratio recon_instr dhcproto_instr ratio
for c in pxe_discover_offer pxe_request_ack ipxe_discover_offer ipxe_request_ack; do
  declare -A ins
  for p in recon dhcproto; do
    a=$(count $c $p $N); b=$(count $c $p $((2*N)))
    ins[$p]=$(( (b - a) / N ))
  done
  est() { python3 -c "import json;print(json.load(open('target/criterion/$1/$2/new/estimates.json'))['median']['point_estimate'])"; }
  r=$(est $c recon); d=$(est $c dhcproto)
  python3 - "$c" "$r" "$d" "${ins[recon]}" "${ins[dhcproto]}" <<'PY'
import sys
c, r, d, ri, di = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"{c:<22} {r:12.0f} {d:12.0f} {d/r:7.1f}x {ri:12d} {di:12d} {di/ri:7.1f}x")
PY
done
grep 'allocations per packet' /tmp/dhcpv4-bench.log
