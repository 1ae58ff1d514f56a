#!/bin/bash
# DHCP reply latency while inventories land: recon at HEAD against recon at BASE (default
# 87f20fd, the last build whose store fsynced uploads under the lock the DHCP loop also takes),
# run side by side, alternating, on the same disk.
#
#   bench/dhcp-uploads.sh                 # ROUNDS=5 COUNT=1000 RATE=200 UPLOADERS=50 BASE=87f20fd
#   bench/dhcp-uploads.sh summary F.csv   # the table again from a CSV
#
# Per round and build: a fresh `recon serve --dhcp full` with an empty data directory on the
# work disk (a tmpfs is refused: its fsync costs nothing), then bench/dhcp-uploads.py in the
# client namespace: COUNT DISCOVERs at RATE/s as a relay agent with no upload running (idle),
# then COUNT more while UPLOADERS threads keep an inventory upload each in flight (uploads).
# Latency is DISCOVER sent to OFFER received, per xid. The report gives, per build and phase,
# the median over rounds of each round's p50 and p99, and the paired ratio HEAD / BASE of the
# loaded p99 (geometric mean over rounds).
#
# Topology, made here and removed on exit: namespaces $NS_S (du-s 10.77.0.1/16) and $NS_C
# (du-c 10.77.0.2/16) joined by a veth pair; nothing touches the host's interfaces. Bounded: each
# round is 2 * COUNT / RATE s of requests plus at most ~10 s; the servers are stopped by PID.
# Needs root, python3, git (a worktree of BASE under target/bench-base is built once).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

summary() {
    python3 - "$1" <<'EOF'
import csv, math, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
builds = sorted({r["build"] for r in rows}, key=lambda b: b != "head")
print(f"{'build':6} {'phase':8} {'rounds':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>5} {'201s/round':>10}")
for b in builds:
    for ph in ("idle", "uploads"):
        rs = [r for r in rows if r["build"] == b and r["phase"] == ph]
        if not rs:
            continue
        med = lambda k: statistics.median(float(r[k]) for r in rs if r[k] not in ("", "None"))
        ups = statistics.median(int(r["uploads_201"] or 0) for r in rs) if ph == "uploads" else 0
        lost = sum(int(r["lost"]) for r in rs)
        print(f"{b:6} {ph:8} {len(rs):6} {med('p50_ms'):8.2f} {med('p99_ms'):8.2f} {med('max_ms'):8.2f} {lost:5} {ups:10.0f}")
pairs = {}
for r in rows:
    if r["phase"] == "uploads":
        pairs.setdefault(r["round"], {})[r["build"]] = float(r["p99_ms"])
ratios = [p["head"] / p["base"] for p in pairs.values() if "head" in p and "base" in p and p["base"] > 0]
if ratios:
    g = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
    print(f"loaded p99, head / base, paired over {len(ratios)} rounds: {g:.3f}x "
          f"(per round: {', '.join(f'{x:.3f}' for x in ratios)})")
EOF
}

if [ "${1:-}" = summary ]; then
    summary "$2"
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "bench/dhcp-uploads.sh: run as root (network namespaces)" >&2; exit 1; }
ROUNDS=${ROUNDS:-5} COUNT=${COUNT:-1000} RATE=${RATE:-200} UPLOADERS=${UPLOADERS:-50} BASE=${BASE:-87f20fd}
for v in ROUNDS COUNT UPLOADERS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] && [ "${!v}" -le 100000 ] || { echo "$v must be 1-100000" >&2; exit 1; }
done
[ "$UPLOADERS" -le 250 ] || { echo "UPLOADERS must be 1-250 (a macvlan and an address each)" >&2; exit 1; }
W=$REPO/target/bench-dhcp-uploads
mkdir -p "$W" bench/results
[ "$(stat -f -c %T "$W")" != tmpfs ] || { echo "bench/dhcp-uploads.sh: $W is on a tmpfs; fsync costs nothing there" >&2; exit 1; }
OUT=${OUT:-bench/results/dhcp-uploads-$(date +%Y%m%d-%H%M%S).csv}
NS_S=recon-bench-du-s-$$ NS_C=recon-bench-du-c-$$
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    rm -rf "$W"/data-*
}
trap cleanup EXIT

echo "[bench] building recon at HEAD and at $BASE" >&2
cargo build -q --release --locked -p agent
HEAD_BIN=$REPO/target/release/recon
if [ ! -d "$W/base" ] || [ "$(git -C "$W/base" rev-parse HEAD)" != "$(git rev-parse "$BASE^{commit}")" ]; then
    git worktree remove --force "$W/base" 2>/dev/null || rm -rf "$W/base"
    git worktree prune
    git worktree add -q --detach "$W/base" "$BASE"
fi
(cd "$W/base" && CARGO_TARGET_DIR=$REPO/target/bench-base cargo build -q --release --locked -p agent)
BASE_BIN=$REPO/target/bench-base/release/recon
"$HEAD_BIN" inventory --format json --raw > "$W/inventory.json"
mkdir -p "$W/boot"
cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi "$W/boot/" 2>/dev/null || : > "$W/boot/undionly.kpxe"

ip netns add "$NS_S"; ip netns add "$NS_C"
ip link add du-s type veth peer name du-c
ip link set du-s netns "$NS_S"; ip link set du-c netns "$NS_C"
ip -n "$NS_S" link set lo up; ip -n "$NS_C" link set lo up
ip -n "$NS_S" link set du-s up; ip -n "$NS_C" link set du-c up
ip -n "$NS_C" addr add 10.77.0.2/16 dev du-c
# The uploaders' nodes: a macvlan each with the node's MAC (bench/dhcp-uploads.py's NODE_MAC);
# the script leases each an address from the master and puts it there, so the master gives each
# its token as it would a real node.
# Only the interface that has an address answers ARP for it (else du-c answers too, with its
# own MAC, and the master's neighbour table no longer shows the node's).
ip netns exec "$NS_C" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
for n in $(seq "$UPLOADERS"); do
    ip -n "$NS_C" link add link du-c name up$n type macvlan mode bridge
    ip -n "$NS_C" link set up$n address "$(printf '52:54:00:ee:01:%02x' "$n")" up
done

echo "build,round,phase,sent,lost,p50_ms,p90_ms,p99_ms,max_ms,uploads_201,uploads_failed" > "$OUT"
for r in $(seq "$ROUNDS"); do
    order=(head base)
    [ $((r % 2)) = 0 ] && order=(base head)
    for b in "${order[@]}"; do
        bin=$HEAD_BIN; [ "$b" = base ] && bin=$BASE_BIN
        data=$W/data-$b-$r
        rm -rf "$data"
        ip netns exec "$NS_S" "$bin" serve --interface du-s --address 10.77.0.1/16 --boot "$W/boot" \
            --data "$data" --dhcp full --lease 4000 > "$W/server-$b-$r.log" 2>&1 &
        SERVER_PID=$!
        for _ in $(seq 300); do
            grep -q "http: serving" "$W/server-$b-$r.log" 2>/dev/null && break
            sleep 0.1
        done
        grep -q "http: serving" "$W/server-$b-$r.log" || { cat "$W/server-$b-$r.log" >&2; exit 1; }
        json=$(timeout $((2 * COUNT / RATE + 120)) ip netns exec "$NS_C" python3 bench/dhcp-uploads.py \
            --server 10.77.0.1 --giaddr 10.77.0.2 --count "$COUNT" --rate "$RATE" \
            --uploaders "$UPLOADERS" --inventory "$W/inventory.json")
        kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
        python3 - "$b" "$r" "$json" >> "$OUT" <<'EOF'
import json, sys
b, r, doc = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
for ph in ("idle", "uploads"):
    p = doc[ph]
    print(",".join(str(x) for x in (b, r, ph, p["sent"], p["lost"], p["p50_ms"], p["p90_ms"], p["p99_ms"],
                                    p["max_ms"], p.get("uploads_201", ""), p.get("uploads_failed", ""))))
EOF
        echo "[bench] round $r $b: $(tail -n 2 "$OUT" | cut -d, -f3,6,8,10 | tr '\n' ' ')" >&2
        rm -rf "$data"
    done
done
echo "[bench] $OUT" >&2
summary "$OUT"
