#!/bin/bash
# A boot storm against `recon serve`: CLIENTS simulated PXE clients (bench/storm.py) power on
# within SPREAD seconds and each does DHCP, TFTP of undionly.kpxe, DHCP as iPXE, HTTP of the boot
# script, kernel and initrd, and the inventory upload. Reports the time until all uploaded, the
# clients' retries, the server's drop counters and its peak RSS, and checks what the master
# kept: every upload that got a 201 is on disk, intact.
#
#   bench/storm.sh                        # 1000 clients on a clean segment
#   NETEM=1 bench/storm.sh                # 10 % loss, 10 % duplication, reordering, both ways (tc netem)
#   KIMPAIR=10 bench/storm.sh             # the same in the kernel without sch_netem: nftables on each
#                                         # veth's egress drops and duplicates 10 % of frames (numgen,
#                                         # dup), and sends 10 % through a 1 Mbit/s HTB class that
#                                         # delays them behind later ones; DHCP, TFTP and HTTP's TCP
#   IMPAIR=10 bench/storm.sh              # the same for DHCP and TFTP, applied in the client
#   FLOOD=5000 bench/storm.sh             # and a hostile relay floods made-up clients at 5000/s
#   CLIENTS=200 FAULTS=20 bench/storm.sh  # SIGKILL the master 20 times during the storm
#
# Variables: CLIENTS (1000), SPREAD (10 s), DEADLINE (900 s: every client gives up then),
# KERNEL_KIB (1024) and INITRD_KIB (4096): the sizes of the synthetic kernel and initrd served,
# NETEM, KIMPAIR and IMPAIR (percent), FLOOD (DISCOVERs a second), FAULTS (kills, one every 2-6 s while clients are running).
# With FAULTS, every client afterwards asks for its address again (INIT-REBOOT) after one more
# kill and restart: each must get the same address back (no lease lost, no address twice).
#
# Topology, made here and removed on exit: namespaces st-s-$$ (s0 10.79.0.1/24, the master) and
# st-c-$$ (c0 10.79.0.2/24, the clients, acting as the relay 10.80.0.1 for the subnet
# 10.80.0.0/16, which routes to the client namespace and is local there, so each client can use
# its leased address). Nothing touches the host's interfaces. The server runs from the release
# build with its data directory on the work disk; processes are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
[ "$(id -u)" = 0 ] || { echo "bench/storm.sh: run as root (network namespaces)" >&2; exit 1; }
CLIENTS=${CLIENTS:-1000} SPREAD=${SPREAD:-10} DEADLINE=${DEADLINE:-900}
KERNEL_KIB=${KERNEL_KIB:-1024} INITRD_KIB=${INITRD_KIB:-4096}
NETEM=${NETEM:-} FLOOD=${FLOOD:-0} FAULTS=${FAULTS:-0} IMPAIR=${IMPAIR:-0} KIMPAIR=${KIMPAIR:-0}
for v in CLIENTS DEADLINE KERNEL_KIB INITRD_KIB FLOOD FAULTS IMPAIR KIMPAIR; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "$v must be a whole number" >&2; exit 1; }
done
[ "$CLIENTS" -ge 1 ] && [ "$CLIENTS" -le 20000 ] || { echo "CLIENTS must be 1-20000" >&2; exit 1; }
[ "$DEADLINE" -le 3600 ] || { echo "DEADLINE must be at most 3600 s" >&2; exit 1; }
[ "$FLOOD" -le 20000 ] || { echo "FLOOD must be at most 20000/s" >&2; exit 1; }
[ "$KIMPAIR" -le 50 ] && [ "$IMPAIR" -le 50 ] || { echo "KIMPAIR and IMPAIR must be at most 50 %" >&2; exit 1; }

W=$REPO/target/bench-storm/$$
NS_S=st-s-$$ NS_C=st-c-$$
SERVER_PID="" CLIENT_PID=""
cleanup() {
    for p in $CLIENT_PID $SERVER_PID; do
        if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    done
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
}
trap cleanup EXIT

cargo build -q --release --locked -p agent
BIN=$REPO/target/release/recon
mkdir -p "$W/boot" "$W/data"
[ -f /usr/lib/ipxe/undionly.kpxe ] || { echo "bench/storm.sh: no /usr/lib/ipxe/undionly.kpxe (scripts/setup installs ipxe)" >&2; exit 1; }
cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi "$W/boot/"
head -c $((KERNEL_KIB * 1024)) /dev/urandom > "$W/boot/vmlinuz"
head -c $((INITRD_KIB * 1024)) /dev/urandom > "$W/boot/initrd.img"
: > "$W/boot/recon.iso"
"$BIN" inventory --format json --raw > "$W/inventory.json"

ip netns add "$NS_S"; ip netns add "$NS_C"
ip link add s0 type veth peer name c0
ip link set s0 netns "$NS_S"; ip link set c0 netns "$NS_C"
ip -n "$NS_S" link set lo up; ip -n "$NS_C" link set lo up
ip -n "$NS_S" link set s0 up; ip -n "$NS_C" link set c0 up
ip -n "$NS_C" addr add 10.79.0.2/24 dev c0
ip -n "$NS_C" route add local 10.80.0.0/16 dev lo
if [ -n "$NETEM" ]; then
    for pair in "$NS_S s0" "$NS_C c0"; do
        set -- $pair
        ip netns exec "$1" tc qdisc add dev "$2" root netem loss 10% duplicate 10% delay 2ms reorder 90% 25%
    done
fi
# Loss, duplication and reordering of every frame a veth sends, with what this kernel has
# (nftables' netdev egress hook, numgen, dup; HTB): a frame the egress chain gives priority 1:20
# waits in a 1 Mbit/s class (at most 10 queued, the rest dropped) while later frames pass.
kimpair() {
    ip netns exec "$1" nft -f - <<NFT
table netdev recon_impair {
    chain out {
        type filter hook egress device "$2" priority 0;
        numgen random mod 100 < $KIMPAIR counter drop
        numgen random mod 100 < $KIMPAIR counter dup to "$2"
        numgen random mod 100 < $KIMPAIR counter meta priority set 1:20
    }
}
NFT
    ip netns exec "$1" tc qdisc add dev "$2" root handle 1: htb default 10 r2q 100000
    ip netns exec "$1" tc class add dev "$2" parent 1: classid 1:10 htb rate 10gbit quantum 60000
    ip netns exec "$1" tc class add dev "$2" parent 1: classid 1:20 htb rate 1mbit ceil 1mbit quantum 1600
    ip netns exec "$1" tc qdisc add dev "$2" parent 1:20 handle 20: pfifo limit 10
}
# Frames dropped, duplicated, delayed (and dropped from the full delay queue) on each veth.
kimpaired() {
    for pair in "$NS_S s0" "$NS_C c0"; do
        set -- $pair
        local c q
        c=$(ip netns exec "$1" nft list table netdev recon_impair | grep -o 'packets [0-9]*' | awk '{print $2}' | paste -sd/)
        q=$(ip netns exec "$1" tc -s qdisc show dev "$2" | awk '/qdisc pfifo 20:/ {f=1} f && /dropped/ {gsub(",", ""); print $7; exit}')
        echo "storm: $2 frames dropped/duplicated/delayed $c, dropped from the delay queue ${q:-0}"
    done
}
if [ "$KIMPAIR" -gt 0 ]; then
    command -v nft >/dev/null || { echo "bench/storm.sh: no nft (scripts/setup installs nftables)" >&2; exit 1; }
    kimpair "$NS_S" s0
    kimpair "$NS_C" c0
fi

KILLS=0 PEAK_KIB=0
start_server() {
    ip netns exec "$NS_S" "$BIN" serve --interface s0 --address 10.79.0.1/24 --boot "$W/boot" \
        --data "$W/data" --dhcp full --no-board --relay 10.80.0.0/16:10.80.1.0-10.80.254.254 \
        >> "$W/server.log" 2>&1 &
    SERVER_PID=$!
    local n=$(( $(grep -c "http: serving" "$W/server.log" 2>/dev/null || true) + 1 ))
    for _ in $(seq 300); do
        [ "$(grep -c "http: serving" "$W/server.log" 2>/dev/null || true)" -ge "$n" ] && return 0
        sleep 0.1
    done
    echo "bench/storm.sh: recon serve did not start" >&2; tail -20 "$W/server.log" >&2; exit 1
}

peak() {
    local k
    k=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
    [ "${k:-0}" -gt "$PEAK_KIB" ] && PEAK_KIB=$k
    return 0
}
start_server
ip -n "$NS_S" route replace 10.80.0.0/16 via 10.79.0.2

what="$CLIENTS clients over ${SPREAD}s, kernel ${KERNEL_KIB} KiB, initrd ${INITRD_KIB} KiB"
[ -n "$NETEM" ] && what+=", netem (10 % loss, 10 % duplicates, reordering)"
[ "$KIMPAIR" -gt 0 ] && what+=", every frame both ways $KIMPAIR % lost, duplicated, delayed (nftables, HTB)"
[ "$FLOOD" -gt 0 ] && what+=", a flood of $FLOOD made-up clients a second"
[ "$IMPAIR" -gt 0 ] && what+=", DHCP and TFTP impaired in the client ($IMPAIR % lost, duplicated, reordered)"
echo "[storm] $what, $FAULTS faults" >&2
renew=()
[ "$FAULTS" -gt 0 ] && renew=(--renew-file "$W/renew")
flood=()
[ "$FLOOD" -gt 0 ] && flood=(--flood "$FLOOD" --flood-giaddr 10.80.0.2)
[ "$IMPAIR" -gt 0 ] && flood+=(--impair "$IMPAIR")
t0=$(date +%s.%N)
ip netns exec "$NS_C" python3 bench/storm.py --server 10.79.0.1 --giaddr 10.80.0.1 --clients "$CLIENTS" \
    --spread "$SPREAD" --deadline "$DEADLINE" --inventory "$W/inventory.json" --acked "$W/acked.jsonl" \
    "${flood[@]}" "${renew[@]}" > "$W/client.json" 2> "$W/client.log" &
CLIENT_PID=$!
while kill -0 "$CLIENT_PID" 2>/dev/null; do
    peak
    if [ "$KILLS" -lt "$FAULTS" ] && ! grep -q "all clients ended" "$W/client.log"; then
        sleep "$(python3 -c 'import random; print(round(random.uniform(2, 6), 2))')"
        kill -0 "$CLIENT_PID" 2>/dev/null || break
        grep -q "all clients ended" "$W/client.log" && continue
        peak
        kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
        KILLS=$((KILLS + 1))
        echo "[storm] SIGKILL $KILLS at $(python3 -c "import time; print(round(time.time() - $t0, 1))") s" >&2
        start_server
    elif [ "$FAULTS" -gt 0 ] && grep -q "all clients ended" "$W/client.log" && [ ! -e "$W/renew" ]; then
        # One more kill and restart, then every client asks for its address again.
        peak
        kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
        start_server
        touch "$W/renew"
    else
        sleep 0.5
    fi
done
wait "$CLIENT_PID" || { echo "bench/storm.sh: storm.py failed" >&2; cat "$W/client.log" >&2; exit 1; }
CLIENT_PID=""
peak
stats=$(ip netns exec "$NS_C" curl -s --max-time 10 http://10.79.0.1/api/v1/stats || echo '{}')
[ "$KIMPAIR" -gt 0 ] && kimpaired
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

python3 - "$W" "$PEAK_KIB" "$KILLS" "$stats" <<'EOF'
import json, os, sys
w, peak, kills, stats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4] or "{}")
r = json.load(open(os.path.join(w, "client.json")))
problems = []
acked = [json.loads(l) for l in open(os.path.join(w, "acked.jsonl")) if l.strip()]
for a in acked:
    p = os.path.join(w, "data", "nodes", a["mac"].replace(":", "-"), "inventory.json")
    try:
        on_disk = json.load(open(p))
    except Exception as e:
        problems.append("%s: acknowledged (201) but %s" % (a["mac"], e))
        continue
    if on_disk.get("system", {}).get("serial") != a["doc"]["system"]["serial"]:
        problems.append("%s: the stored inventory is not the one acknowledged" % a["mac"])
if r["uploaded"] != r["clients"]:
    problems.append("%d of %d clients did not upload: %s" % (r["clients"] - r["uploaded"], r["clients"], r["failed"][:3]))
if r["duplicate_addresses"]:
    problems.append("%d addresses leased twice" % r["duplicate_addresses"])
if "renewed_same" in r and r["renewed_same"] != r["clients"]:
    problems.append("%d leases lost in the restarts: %s" % (r["clients"] - r["renewed_same"], r["renew_lost"][:3]))
drops = {s: {k: v for k, v in c.items() if any(w in k for w in ("drop", "malformed", "limited", "expired", "exhaust", "evicted", "refused", "timeout"))}
         for s, c in stats.items() if isinstance(c, dict)}
print("storm: clients %d, uploaded %d, time to all uploaded %s s (median client %s s), elapsed %s s"
      % (r["clients"], r["uploaded"], r["seconds_to_all_uploaded"], r["p50_s"], r["elapsed_s"]))
print("storm: client retries %s" % json.dumps(r["retries"]))
print("storm: server counters (last incarnation) %s" % json.dumps(drops))
print("storm: peak RSS of recon serve %d KiB; SIGKILLs survived %d; acknowledged uploads checked on disk %d"
      % (peak, kills, len(acked)))
if r.get("flood"):
    print("storm: flood sent %d DISCOVERs (%d a second), %d answered" % (r["flood"]["sent"], r["flood"]["per_s"], r["flood"]["replies"]))
if r.get("impaired"):
    print("storm: impaired datagrams %s" % json.dumps(r["impaired"]))
if "renewed_same" in r:
    print("storm: leases renewed unchanged after the last restart: %d of %d" % (r["renewed_same"], r["clients"]))
for p in problems:
    print("storm: PROBLEM " + p)
sys.exit(1 if problems else 0)
EOF
