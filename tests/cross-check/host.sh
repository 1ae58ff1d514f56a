#!/bin/bash
# Cross-checks `recon inventory` on this machine against lshw, lspci, dmidecode, lsblk, lscpu and
# ethtool. This is the one place the tests read the host's own /sys and /proc: on purpose, since
# the point is a real machine's hardware as other tools see it.
#
# What gets compared depends on the machine. On the firecracker VM this was written on there is
# no SMBIOS table at all (dmidecode: "No SMBIOS nor DMI entry point found"), so system, board,
# chassis, firmware and DIMM identity are compared only as "absent on both sides"; CPU
# (lscpu, lshw), PCI (lspci, lshw), NICs (lshw, ethtool), disks (lsblk, lshw) and the memory
# total (lshw) are compared for real. On a server with a table, every SMBIOS field is compared too.
#
# Usage (as root: dmidecode and lshw read root-only tables):  host.sh
#   RECON_BIN=path   the recon binary (default: cargo build --release)
#   XCHECK_OUT=dir   where outputs and the report go (default target/cross-check/host-<time>)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${XCHECK_OUT:=$repo/target/cross-check/host-$(date +%Y%m%d-%H%M%S)}"

log() { printf '[host.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: dmidecode and lshw read root-only tables"
missing=()
for pair in lshw:lshw lspci:pciutils dmidecode:dmidecode lsblk:util-linux lscpu:util-linux \
            ethtool:ethtool python3:python3; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair%%:*} (apt-get install ${pair#*:})")
done
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}"

if [ -z "${RECON_BIN:-}" ]; then
  log "building recon (cargo build --release -p agent)"
  (cd "$repo" && cargo build --release -p agent --quiet)
  RECON_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/recon"
fi
[ -x "$RECON_BIN" ] || die "recon binary $RECON_BIN missing"

mkdir -p "$XCHECK_OUT"
o=$XCHECK_OUT
t0=$(date +%s)
"$RECON_BIN" inventory --format json > "$o/recon.json" 2> "$o/recon.err"
lshw -json -numeric > "$o/lshw.json" 2> "$o/lshw.err"
lspci -vmm -k -D -nn > "$o/lspci.txt" 2> "$o/lspci.err"
lsblk -J -O -b > "$o/lsblk.json" 2> "$o/lsblk.err"
lscpu -J > "$o/lscpu.json" 2> "$o/lscpu.err"
lscpu -J -C -B > "$o/lscpu-caches.json" 2> "$o/lscpu-caches.err"
# dmidecode exits 1 when the machine has no table; that is a fact to compare, not a failure,
# as long as the kernel agrees there is none.
dmi_rc=0
dmidecode > "$o/dmidecode.txt" 2> "$o/dmidecode.err" || dmi_rc=$?
if [ "$dmi_rc" != 0 ]; then
  [ ! -e /sys/firmware/dmi/tables/DMI ] || die "dmidecode failed ($dmi_rc) although the kernel has a table: $(cat "$o/dmidecode.err")"
  log "no SMBIOS table on this machine: dmidecode compares only its absence"
fi
: > "$o/ethtool.txt"
for n in /sys/class/net/*; do
  name=${n##*/}
  [ "$name" = lo ] && continue
  for opt in -P -i ""; do
    echo "== ethtool $opt $name" >> "$o/ethtool.txt"
    # shellcheck disable=SC2086
    ethtool $opt "$name" >> "$o/ethtool.txt" 2>&1 || true   # virtual links answer some with "Operation not supported"
  done
done
log "tools ran in $(($(date +%s) - t0))s; outputs in $o"

rc=0
python3 "$here/compare.py" --label "host $(hostname)" --recon "$o/recon.json" --lshw "$o/lshw.json" \
  --lspci "$o/lspci.txt" --dmidecode "$o/dmidecode.txt" --lsblk "$o/lsblk.json" --lscpu "$o/lscpu.json" \
  --lscpu-caches "$o/lscpu-caches.json" --ethtool "$o/ethtool.txt" | tee "$o/report.txt" || rc=$?
log "report in $o/report.txt"
exit "$rc"
