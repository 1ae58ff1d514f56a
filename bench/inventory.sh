#!/bin/bash
# Hardware inventory: `recon inventory --format json` against lshw -json, hwinfo --all and
# inxi -Fxxxz on this machine, side by side; then recon alone on the richest fixture trees; then
# which of lshw's fields recon also reports.
#
#   bench/inventory.sh            # RUNS=10 timed runs per tool
#   RUNS=3 bench/inventory.sh
#
# Method. Each run is spawned by a small python driver as `/usr/bin/time -f "%e %M" CMD` (GNU
# time, package `time`) with stdout to a file: wall time is the driver's perf_counter around
# spawn + wait (microseconds; it includes starting /usr/bin/time and its fork, which the
# `/bin/true` floor row shows), peak RSS is GNU time's %M (KiB; getrusage's maxrss, the largest
# process of the tool's tree). One untimed warm-up run per tool first, then RUNS rounds; every
# round runs each tool once, the starting tool rotating round by round. Caches are not dropped,
# so every figure is warm-cache: files, pci.ids, binaries and interpreters (inxi is Perl) are in
# the page cache from the warm-up. Reported: median and min; ratios are tool / recon (medians).
# A run that exits non-zero or prints nothing stops the script.
#
# The peers have no sysroot option (no --root): they read only the live machine. On the fixture
# trees (util-linux's x86_64-epyc_7451 lscpu dump, 96 CPUs, and prometheus/procfs' proc+sys tree)
# recon runs alone, interleaved in the same rounds.
#
# Network: inxi gets -z and none of -i/-w/-W (the options that fetch a WAN IP or weather);
# hwinfo --all would broadcast PPPoE discovery frames on every Ethernet interface (its pppoe probe),
# so it runs with hwprobe=-pppoe (the same output here, no frame). Before timing, every command
# runs once under strace and the script stops if any of them connects, binds, or sends on an
# AF_INET, AF_INET6 or AF_PACKET socket (unix and netlink sockets are local and allowed).
#
# Fields: lshw -json's tree is flattened into field kinds `class/bus.key` (bus from businfo,
# `pnp` for lshw's PnP nodes (id pnpNN:NN, no businfo), `-` otherwise; configuration.* one field
# each; capabilities one field per kind, whatever its length; id/handle/physid/claimed/units/
# children are structure, not fields). Each kind is mapped by hand to recon's JSON paths, and
# counts as covered only if recon has a value there for the same device (PCI address, NIC,
# disk, partition, virtio or PnP name) on every node of that kind. `path=word` means the list
# at path holds word (`network[].flags=broadcast`). Three descriptions are lshw's constant
# labels, the same text on every machine ("Computer" for a system without a DMI chassis type,
# "Motherboard", "System memory"): they are listed apart and counted neither way. Mappings for
# nodes this VM lacks (DMI, banks, caches, volumes) are best effort; anything unmapped counts
# as lshw-only.
#
# Env: RUNS=10 (1-1000)
#      OUT=bench/results/inventory-<stamp>.csv (one line per run)
# Needs root (lshw and hwinfo read root-only data), and the packages lshw hwinfo inxi time strace.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
[ "$(id -u)" = 0 ] || { echo "bench/inventory.sh: run as root (lshw and hwinfo need it)" >&2; exit 1; }
RUNS=${RUNS:-10}
[[ "$RUNS" =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] && [ "$RUNS" -le 1000 ] \
  || { echo "bench/inventory.sh: RUNS must be 1-1000, not '$RUNS'" >&2; exit 1; }
FIXTURES=$REPO/tests/fixtures
OUT=${OUT:-bench/results/inventory-$(date +%Y%m%d-%H%M%S).csv}

missing=()
for pair in lshw:lshw hwinfo:hwinfo inxi:inxi /usr/bin/time:time strace:strace python3:python3 \
            tar:tar cargo:cargo; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair%%:*} (apt package ${pair#*:})")
done
if [ ${#missing[@]} -gt 0 ]; then
  printf 'bench/inventory.sh: missing %s\n' "${missing[@]}" >&2
  exit 1
fi
EPYC_TGZ=$FIXTURES/lscpu-dumps/dumps/x86_64-epyc_7451.tar.gz
PROCFS_TTAR=$FIXTURES/procfs/fixtures.ttar
for f in "$EPYC_TGZ" "$PROCFS_TTAR" "$FIXTURES/procfs/unttar.py"; do
  [ -f "$f" ] || { echo "bench/inventory.sh: missing fixture $f" >&2; exit 1; }
done

cargo build --release --locked -p agent >/dev/null 2>&1 \
  || { echo "bench/inventory.sh: cargo build --release -p agent failed" >&2; exit 1; }
RECON=${CARGO_TARGET_DIR:-$REPO/target}/release/recon
[ -x "$RECON" ] || { echo "bench/inventory.sh: no $RECON after the build" >&2; exit 1; }

W=$(mktemp -d /tmp/recon-bench-inventory.XXXXXX)
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$W/fx" "$(dirname "$OUT")"
tar xzf "$EPYC_TGZ" -C "$W/fx"
python3 "$FIXTURES/procfs/unttar.py" "$PROCFS_TTAR" "$W/fx/procfs" >/dev/null
EPYC=$W/fx/x86_64-epyc_7451
PROCFS=$W/fx/procfs/fixtures
[ -d "$EPYC/sys" ] && [ -d "$PROCFS/sys" ] || { echo "bench/inventory.sh: fixture trees did not unpack" >&2; exit 1; }

export RECON EPYC PROCFS RUNS W OUT
python3 - <<'PY'
import json, os, re, signal, statistics, subprocess, sys, time

RECON, EPYC, PROCFS, W, OUT = (os.environ[k] for k in ("RECON", "EPYC", "PROCFS", "W", "OUT"))
RUNS = int(os.environ["RUNS"])
TIMEOUT_S = 120

# name, argv, extra environment, shown as
TOOLS = [
    ("recon", [RECON, "inventory", "--format", "json"], {}, "recon inventory --format json"),
    ("lshw", ["lshw", "-json"], {}, "lshw -json"),
    ("hwinfo", ["hwinfo", "--all"], {"hwprobe": "-pppoe"}, "hwprobe=-pppoe hwinfo --all"),
    ("inxi", ["inxi", "-Fxxxz", "-c0"], {}, "inxi -Fxxxz -c0"),
    ("recon-raw", [RECON, "inventory", "--raw", "--format", "json"], {},
     "recon inventory --raw --format json (no pci.ids names)"),
    ("recon@epyc", [RECON, "inventory", "--root", EPYC, "--format", "json"], {},
     "recon inventory --root x86_64-epyc_7451 --format json"),
    ("recon@procfs", [RECON, "inventory", "--root", PROCFS, "--format", "json"], {},
     "recon inventory --root procfs/fixtures --format json"),
    ("floor", ["/bin/true"], {}, "/bin/true (harness floor)"),
]

def die(msg):
    print(f"bench/inventory.sh: {msg}", file=sys.stderr)
    sys.exit(1)

#--- Network guard: every command once under strace
NET = re.compile(r"^(?:\d+\s+)?(connect|bind|sendto|sendmsg|sendmmsg)\(.*\b(AF_INET6?|AF_PACKET)\b")
for name, argv, extra, _ in TOOLS:
    trace = f"{W}/strace-{name}.txt"
    r = subprocess.run(["strace", "-f", "-qq", "-o", trace, "-e",
                        "trace=connect,bind,sendto,sendmsg,sendmmsg"] + argv,
                       env={**os.environ, **extra}, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT_S)
    if r.returncode != 0:
        die(f"{name} exited {r.returncode} under strace")
    with open(trace) as f:
        bad = [l.strip() for l in f if NET.search(l)]
    if bad:
        die(f"{name} used the network:\n  " + "\n  ".join(bad[:5]))
print(f"network guard: none of {len(TOOLS)} commands connected, bound or sent on AF_INET/AF_INET6/AF_PACKET")

#--- One run: /usr/bin/time -f "%e %M" CMD, wall from here
class Timeout(Exception):
    pass

def on_alarm(_sig, _frame):
    raise Timeout()

signal.signal(signal.SIGALRM, on_alarm)
DEVNULL = os.open("/dev/null", os.O_RDONLY)

def run_once(name, argv, extra):
    out, err, tf = f"{W}/out-{name}", f"{W}/err-{name}", f"{W}/time-{name}"
    wr = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [(os.POSIX_SPAWN_DUP2, DEVNULL, 0),
               (os.POSIX_SPAWN_OPEN, 1, out, wr, 0o644),
               (os.POSIX_SPAWN_OPEN, 2, err, wr, 0o644)]
    cmd = ["/usr/bin/time", "-f", "%e %M", "-o", tf] + argv
    env = {**os.environ, **extra}
    signal.alarm(TIMEOUT_S)
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(cmd[0], cmd, env, file_actions=actions, setpgroup=0)
    try:
        _, status, _ = os.wait4(pid, 0)
    except Timeout:
        os.killpg(pid, signal.SIGKILL)
        os.wait4(pid, 0)
        die(f"{name} ran longer than {TIMEOUT_S} s")
    t1 = time.perf_counter_ns()
    signal.alarm(0)
    rc = os.waitstatus_to_exitcode(status)
    size = os.path.getsize(out)
    if rc != 0 or (size == 0 and name != "floor"):
        with open(err, errors="replace") as f:
            die(f"{name} exited {rc} with {size} bytes of output: {f.read(500)}")
    with open(tf) as f:
        rss = int(f.read().split()[-1])
    return (t1 - t0) / 1e6, rss, size

def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])

load_before = loadavg()
for name, argv, extra, _ in TOOLS:          # warm-up, not counted
    run_once(name, argv, extra)
res = {name: [] for name, *_ in TOOLS}
with open(OUT, "w") as csv:
    csv.write("round,tool,wall_ms,maxrss_kib,out_bytes\n")
    for rnd in range(RUNS):
        k = rnd % len(TOOLS)
        for name, argv, extra, _ in TOOLS[k:] + TOOLS[:k]:
            wall, rss, size = run_once(name, argv, extra)
            res[name].append((wall, rss, size))
            csv.write(f"{rnd + 1},{name},{wall:.3f},{rss},{size}\n")
load_after = loadavg()

#--- Timing table
def med(name, i):
    return statistics.median(r[i] for r in res[name])

def lo(name, i):
    return min(r[i] for r in res[name])

def count_files(root):
    return sum(len(d) + len(f) for _, d, f in os.walk(root))

print(f"\n{RUNS} runs per tool after one warm-up each (warm cache), rounds interleaved; "
      f"load average {load_before} before, {load_after} after; raw runs: {OUT}\n")
print("| tool | command | wall ms median | wall ms min | peak RSS KiB median | min | time vs recon | RSS vs recon | output bytes |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for name, _, _, shown in TOOLS:
    print(f"| {name} | `{shown}` | {med(name, 0):.1f} | {lo(name, 0):.1f} | {med(name, 1):.0f} | "
          f"{lo(name, 1)} | {med(name, 0) / med('recon', 0):.2f}x | {med(name, 1) / med('recon', 1):.2f}x | "
          f"{med(name, 2):.0f} |")
tr, rr = med("lshw", 0) / med("recon", 0), med("recon", 1) / med("lshw", 1)
print(f"\nlshw/recon wall time: {tr:.2f}x (target >= 10x: {'met' if tr >= 10 else 'NOT met'}); "
      f"recon/lshw peak RSS: {rr:.2f} (target <= 0.33: {'met' if rr <= 1 / 3 else 'NOT met'})")
print(f"fixture trees (recon only; lshw, hwinfo and inxi have no sysroot option): "
      f"x86_64-epyc_7451 {count_files(EPYC)} entries, procfs/fixtures {count_files(PROCFS)} entries")

#--- Fields: lshw's field kinds against recon's paths
with open(f"{W}/out-lshw") as f:
    lshw = json.load(f)
with open(f"{W}/out-recon") as f:
    recon = json.load(f)
STRUCTURE = {"id", "class", "handle", "physid", "claimed", "units", "children", "disabled"}

def nodes(n):
    for m in (n if isinstance(n, list) else [n]):
        yield m
        for c in m.get("children", []):
            yield from nodes(c)

def scope(n):
    """Which recon list entry a node is: the PCI function, NIC, disk, partition, virtio or PnP
    device of the same name."""
    s, bi = {}, n.get("businfo", "")
    if bi.startswith("pci@"):
        s["pci"] = ("address", bi[4:])
    if bi.startswith("virtio@"):
        s["virtio"] = ("name", "virtio" + bi[7:])
    if n.get("id", "").startswith("pnp") and not bi:
        s["pnp"] = ("name", n["id"][3:])
    names = n.get("logicalname", [])
    names = names if isinstance(names, list) else [names]
    if n.get("class") == "network" and names:
        s["network"] = ("name", names[0])
    devs = [x[5:] for x in names if x.startswith("/dev/")]
    if n.get("class") == "disk" and devs:
        s["storage.disks"] = ("name", devs[0])
    if n.get("class") == "volume" and devs:
        s["storage.disks.partitions"] = ("name", devs[0])
    return s

def bus_of(n):
    if "businfo" in n:
        return n["businfo"].split("@")[0]
    return "pnp" if n.get("id", "").startswith("pnp") else "-"

# lshw's constant descriptions: (class, key) -> the label (not machine data).
LABELS = {("system", "description"): "Computer", ("bus", "description"): "Motherboard",
          ("memory", "description"): "System memory"}

fields = {}                                   # (class, bus, key) -> [(value, scope)] one per node
labels = set()
for n in nodes(lshw):
    cls, bus = n.get("class", "?"), bus_of(n)
    sc = scope(n)
    for k, v in n.items():
        if k in STRUCTURE:
            continue
        if LABELS.get((cls, k)) == v:
            labels.add(f"{cls}/{bus}.{k} ({v})")
            continue
        if k == "configuration":
            for ck, cv in v.items():
                fields.setdefault((cls, bus, f"configuration.{ck}"), []).append((cv, sc))
        elif k == "capabilities":
            fields.setdefault((cls, bus, "capabilities"), []).append((", ".join(v), sc))
        else:
            fields.setdefault((cls, bus, k), []).append((v, sc))

# (class, bus, key) -> recon paths (any with a value covers it); "*" matches any class or bus.
# Lookup order: (class, bus), (*, bus), (class, *), (*, *). Unlisted or None: no recon field.
M = {
    ("*", "pci", "description"): ["pci[].names.class"],
    ("*", "pci", "product"): ["pci[].names.device", "pci[].device_id"],
    ("*", "pci", "vendor"): ["pci[].names.vendor", "pci[].vendor_id"],
    ("*", "pci", "businfo"): ["pci[].address"],
    ("*", "pci", "version"): ["pci[].revision"],
    ("*", "pci", "configuration.driver"): ["pci[].driver"],
    ("*", "pci", "width"): ["pci[].config.address_bits"],
    ("*", "pci", "clock"): ["pci[].config.bus_clock_hz"],
    ("*", "pci", "configuration.latency"): ["pci[].config.latency_timer"],
    ("*", "pci", "configuration.maxlatency"): ["pci[].config.max_latency"],
    ("*", "pci", "configuration.mingnt"): ["pci[].config.min_grant"],
    ("*", "pci", "capabilities"): ["pci[].config.capabilities"],
    ("*", "virtio", "businfo"): ["virtio[].name"],
    ("*", "virtio", "description"): ["virtio[].kind"],   # lshw: "Virtual I/O device"
    ("*", "virtio", "configuration.driver"): ["virtio[].driver"],
    ("*", "pnp", "product"): ["pnp[].ids"],                # lshw: "PnP device PNP0501"
    ("*", "pnp", "configuration.driver"): ["pnp[].driver"],
    ("*", "pnp", "capabilities"): ["pnp[].name"],          # lshw: pnp
    ("system", "*", "capabilities"): ["run.kernel_abi", "cpu.online_cpus"],  # vsyscall32; smp
    ("processor", "*", "product"): ["cpu.model_name"],
    ("processor", "*", "vendor"): ["cpu.vendor"],
    ("processor", "*", "version"): ["cpu.family"],            # lshw: family.model.stepping
    ("processor", "*", "businfo"): ["cpu.packages[].socket", "cpu.sockets"],
    ("processor", "*", "width"): ["cpu.architecture"],
    ("processor", "*", "configuration.microcode"): ["cpu.microcode"],
    ("processor", "*", "configuration.cores"): ["cpu.packages[].core_count", "cpu.cores"],
    ("processor", "*", "configuration.enabledcores"): ["cpu.packages[].cores_enabled"],
    ("processor", "*", "configuration.threads"): ["cpu.packages[].thread_count"],
    ("processor", "*", "capabilities"): ["cpu.flags"],
    ("processor", "*", "size"): ["cpu.packages[].current_speed_hz"],
    ("processor", "*", "capacity"): ["cpu.packages[].max_speed_hz", "cpu.max_hz"],
    ("processor", "*", "slot"): ["cpu.packages[].socket"],
    ("processor", "*", "serial"): ["cpu.packages[].serial"],
    ("memory", "*", "size"): ["memory.online_bytes", "memory.installed_bytes", "memory.dimms[].size_bytes"],
    ("memory", "*", "vendor"): ["firmware.vendor", "memory.dimms[].manufacturer"],
    ("memory", "*", "version"): ["firmware.version"],
    ("memory", "*", "date"): ["firmware.date"],
    ("memory", "*", "product"): ["memory.dimms[].part_number"],
    ("memory", "*", "serial"): ["memory.dimms[].serial"],
    ("memory", "*", "slot"): ["memory.dimms[].locator"],
    ("memory", "*", "configuration.errordetection"): ["memory.arrays[].error_correction"],
    ("system", "*", "product"): ["system.product"],
    ("system", "*", "vendor"): ["system.manufacturer"],
    ("system", "*", "version"): ["system.version"],
    ("system", "*", "serial"): ["system.serial"],
    ("system", "*", "description"): ["system.chassis.type_name"],
    ("system", "*", "width"): ["cpu.architecture"],
    ("system", "*", "configuration.uuid"): ["system.uuid"],
    ("system", "*", "configuration.sku"): ["system.sku"],
    ("system", "*", "configuration.family"): ["system.family"],
    ("system", "*", "configuration.chassis"): ["system.chassis.type_name"],
    ("bus", "*", "product"): ["system.baseboard.product"],
    ("bus", "*", "vendor"): ["system.baseboard.manufacturer"],
    ("bus", "*", "version"): ["system.baseboard.version"],
    ("bus", "*", "serial"): ["system.baseboard.serial"],
    ("disk", "*", "logicalname"): ["storage.disks[].name"],
    ("disk", "scsi", "businfo"): ["storage.disks[].hctl"],
    ("disk", "*", "product"): ["storage.disks[].model"],
    ("disk", "*", "vendor"): ["storage.disks[].vendor"],
    ("disk", "*", "version"): ["storage.disks[].firmware"],
    ("disk", "*", "serial"): ["storage.disks[].serial"],
    ("disk", "*", "size"): ["storage.disks[].size_bytes"],
    ("disk", "*", "configuration.logicalsectorsize"): ["storage.disks[].logical_block_bytes"],
    ("disk", "*", "configuration.sectorsize"): ["storage.disks[].physical_block_bytes"],
    ("disk", "*", "configuration.mount.fstype"): ["storage.disks[].mounts[].fstype"],
    ("disk", "*", "configuration.mount.options"): ["storage.disks[].mounts[].options"],
    ("disk", "*", "configuration.state"): ["storage.disks[].mounts[].mount_point"],
    ("volume", "*", "logicalname"): ["storage.disks[].partitions[].name"],
    ("volume", "*", "size"): ["storage.disks[].partitions[].size_bytes"],
    ("volume", "*", "configuration.mount.fstype"): ["storage.disks[].partitions[].mounts[].fstype"],
    ("volume", "*", "configuration.mount.options"): ["storage.disks[].partitions[].mounts[].options"],
    ("volume", "*", "configuration.state"): ["storage.disks[].partitions[].mounts[].mount_point"],
    ("network", "*", "logicalname"): ["network[].name"],
    ("network", "*", "serial"): ["network[].mac"],
    ("network", "*", "description"): ["network[].link_type"],
    ("network", "*", "capabilities"): ["network[].link_type"],   # non-PCI node: ethernet, physical
    ("network", "*", "configuration.driver"): ["network[].driver"],
    ("network", "*", "configuration.driverversion"): ["network[].driver_version"],
    ("network", "*", "configuration.firmware"): ["network[].firmware_version"],
    ("network", "*", "configuration.link"): ["network[].carrier"],
    ("network", "*", "configuration.speed"): ["network[].speed_mbps"],
    ("network", "*", "configuration.duplex"): ["network[].duplex"],
    ("network", "*", "size"): ["network[].speed_mbps"],
    ("network", "*", "configuration.ip"): ["network[].ipv4[].address"],
    ("network", "*", "configuration.autonegotiation"): ["network[].autonegotiation"],
    ("network", "*", "configuration.broadcast"): ["network[].flags=broadcast"],
    ("network", "*", "configuration.multicast"): ["network[].flags=multicast"],
    ("network", "*", "configuration.port"): ["network[].port"],
}

def lookup(cls, bus, key):
    for c, b in ((cls, bus), ("*", bus), (cls, "*"), ("*", "*")):
        if (c, b, key) in M:
            return M[(c, b, key)]
    return None

def values(doc, path, sc):
    path, _, word = path.partition("=")
    cur, prefix = [doc], ""
    for part in path.split("."):
        many = part.endswith("[]")
        part = part.removesuffix("[]")
        prefix = f"{prefix}.{part}" if prefix else part
        nxt = [c.get(part) for c in cur if isinstance(c, dict)]
        if many:
            cur = [x for v in nxt if isinstance(v, list) for x in v]
            if prefix in sc:
                k, want = sc[prefix]
                cur = [x for x in cur if isinstance(x, dict) and x.get(k) == want]
        else:
            cur = nxt
    if word:
        cur = [word for v in cur if isinstance(v, list) and word in v]
    return [v for v in cur if v not in (None, "", [], {})]

def short(v):
    s = json.dumps(v) if not isinstance(v, str) else v
    return s if len(s) <= 40 else s[:37] + "..."

print("\n| lshw field (class/bus.key) | nodes | lshw value (first node) | recon path | recon value (same device) |")
print("|---|---:|---|---|---|")
covered, lshw_only = 0, []
for (cls, bus, key), occ in sorted(fields.items()):
    paths, hits = lookup(cls, bus, key) or [], []
    for _, sc in occ:                        # every node of this kind must be matched
        for p in paths:
            got = values(recon, p, sc)
            if got:
                hits.append((p, got[0]))
                break
    name = f"{cls}/{bus}.{key}"
    if len(hits) == len(occ):
        covered += 1
    else:
        lshw_only.append(name + (f" ({len(hits)} of {len(occ)} nodes)" if hits else ""))
    shown = hits[0][0] if hits else (" / ".join(paths) + " (no value)" if paths else "-")
    print(f"| {name} | {len(occ)} | {short(occ[0][0])} | {shown} | {short(hits[0][1]) if hits else '-'} |")

def leaves(v, path=""):
    if isinstance(v, dict):
        for k, x in v.items():
            yield from leaves(x, f"{path}.{k}" if path else k)
    elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        for x in v:
            yield from leaves(x, path + "[]")
    elif v not in (None, "", [], {}):
        yield path

recon_leaves = set(leaves(recon))
print(f"\nlshw fields on this machine: {len(fields)}; recon covers: {covered}; "
      f"lshw-only fields: {lshw_only}")
print(f"lshw constant labels, counted neither way: {len(labels)}: {sorted(labels)}")
keys = sorted({f"{x.split('/', 1)[1].split(' ')[0]}" for x in lshw_only})
print(f"lshw-only, class ignored (bus.key): {len(keys)}: {keys}")
print(f"recon fields with a value on this machine: {len(recon_leaves)} "
      f"(lists such as cpu.flags count once)")
PY
