#!/usr/bin/env python3
"""DHCP reply latency while inventories land: the client side of bench/dhcp-uploads.sh.

Runs inside the client namespace. Acts as a relay agent (giaddr = --giaddr, RFC 2131 section
4.1): DISCOVERs from random MACs go unicast to the server's port 67 at --rate per second, and
the OFFERs come back to giaddr:67, where each one's latency is taken by its xid. Two phases of
--count DISCOVERs each: idle, then with --uploaders threads each POSTing an inventory to
/api/v1/nodes/<mac>/inventory again and again (its token from boot.ipxe first, asked from the
node's own address: a macvlan with the node's MAC that bench/dhcp-uploads.sh made), so
that --uploaders uploads are in flight the whole phase. Prints one JSON line:
{"idle": {...}, "uploads": {...}} with p50, p90, p99 and max in ms, lost replies, and the
uploads completed (201) during the loaded phase.

Bounded: each phase sends exactly --count requests and waits at most 2 s for the last replies;
the upload threads stop with their phase.
"""

import argparse
import http.client
import json
import os
import random
import re
import socket
import struct
import subprocess
import threading
import time

import storm  # bench/storm.py: its DHCP client messages


# The uploaders' nodes, 1..=--uploaders (bench/dhcp-uploads.sh makes their macvlans).
NODE_MAC = "52:54:00:ee:01:%02x"


def lease(sock, server, giaddr, mac_text, iface):
    """DISCOVER and REQUEST for an uploader's MAC through the relay socket (bench/storm.py's
    DHCP client messages), then its address on its macvlan: the master gives a node's token only
    to the address it leased to that node."""
    mac = bytes(int(x, 16) for x in mac_text.split(":"))
    for _ in range(20):
        xid = random.getrandbits(32)
        sock.sendto(storm.dhcp_message(storm.DISCOVER, xid, mac, giaddr), (server, 67))
        offer = wait_reply(sock, xid)
        if not offer or offer[1] != storm.OFFER:
            continue
        ip = offer[2]
        req = storm.dhcp_message(storm.REQUEST, xid, mac, giaddr, requested=ip, server_id=offer[4])
        sock.sendto(req, (server, 67))
        ack = wait_reply(sock, xid)
        if ack and ack[1] == storm.ACK:
            subprocess.run(["ip", "addr", "replace", ip + "/16", "dev", iface], check=True)
            return ip
    raise SystemExit("dhcp-uploads.py: no lease for " + mac_text)


def wait_reply(sock, xid, limit=2.0):
    """The reply with this xid, parsed (storm.parse_dhcp), or None after `limit` seconds."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            p = storm.parse_dhcp(sock.recv(2048))
        except socket.timeout:
            continue
        if p and p[0] == xid:
            return p
    return None


def discover(xid: int, mac: bytes, giaddr: str) -> bytes:
    head = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s",
        1, 1, 6, 1, xid, 0, 0,
        b"\0" * 4, b"\0" * 4, b"\0" * 4, socket.inet_aton(giaddr),
        mac + b"\0" * 10, b"\0" * 64, b"\0" * 128,
    )
    return head + b"\x63\x82\x53\x63" + bytes([53, 1, 1, 255])


def percentile(sorted_ms, p):
    if not sorted_ms:
        return None
    k = min(len(sorted_ms) - 1, max(0, round(p / 100 * (len(sorted_ms) - 1))))
    return sorted_ms[k]


def phase(sock, server, giaddr, count, rate):
    sent = {}
    got = {}
    done = threading.Event()

    def receive():
        while not done.is_set():
            try:
                data = sock.recv(2048)
            except socket.timeout:
                continue
            t = time.monotonic()
            if len(data) >= 8 and data[0] == 2:
                xid = struct.unpack("!I", data[4:8])[0]
                if xid in sent and xid not in got:
                    got[xid] = t

    rx = threading.Thread(target=receive, daemon=True)
    rx.start()
    start = time.monotonic()
    for i in range(count):
        due = start + i / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        xid = random.getrandbits(32)
        mac = bytes([0x02]) + os.urandom(5)
        sent[xid] = time.monotonic()
        sock.sendto(discover(xid, mac, giaddr), (server, 67))
    deadline = time.monotonic() + 2
    while len(got) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.01)
    done.set()
    rx.join()
    lat = sorted((got[x] - sent[x]) * 1000 for x in got)
    return {
        "sent": len(sent),
        "lost": len(sent) - len(got),
        "p50_ms": percentile(lat, 50),
        "p90_ms": percentile(lat, 90),
        "p99_ms": percentile(lat, 99),
        "max_ms": lat[-1] if lat else None,
    }


def request(server, source, method, path, body=None, headers=None):
    """One HTTP exchange from `source` (the node's own address); (status, body)."""
    c = http.client.HTTPConnection(server, 80, timeout=60, source_address=(source, 0))
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def uploader(server, n, source, body, stop, counts, lock):
    # Node n: a macvlan in the client namespace with this MAC (made by bench/dhcp-uploads.sh)
    # and the address the master leased it, so the master hands it its token, as to a node.
    mac = NODE_MAC % n
    status, script = request(server, source, "GET", f"/boot.ipxe?mac={mac}")
    if status != 200:
        with lock:
            counts["failed"] += 1
        return
    token = re.search(r"recon\.token=([0-9a-f]+)", script.decode()).group(1)
    doc = json.loads(body)
    doc["run"]["boot_mac"] = mac
    data = json.dumps(doc).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    while not stop.is_set():
        try:
            ok = request(server, source, "POST", f"/api/v1/nodes/{mac}/inventory", data, headers)[0] == 201
        except Exception:
            ok = False
        with lock:
            counts["ok" if ok else "failed"] += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--giaddr", required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--uploaders", type=int, default=50)
    ap.add_argument("--inventory", required=True, help="an inventory JSON file to upload")
    a = ap.parse_args()
    body = open(a.inventory, "rb").read()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.giaddr, 67))
    sock.settimeout(0.1)
    sources = {n: lease(sock, a.server, a.giaddr, NODE_MAC % n, "up%d" % n) for n in range(1, a.uploaders + 1)}
    out = {"idle": phase(sock, a.server, a.giaddr, a.count, a.rate)}
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    threads = [
        threading.Thread(target=uploader, args=(a.server, n, sources[n], body, stop, counts, lock), daemon=True)
        for n in range(1, a.uploaders + 1)
    ]
    for t in threads:
        t.start()
    time.sleep(1)  # every uploader has its token and a POST in flight
    with lock:
        before = counts["ok"]
    out["uploads"] = phase(sock, a.server, a.giaddr, a.count, a.rate)
    with lock:
        out["uploads"]["uploads_201"] = counts["ok"] - before
    stop.set()
    for t in threads:
        t.join(timeout=90)
    with lock:
        out["uploads"]["uploads_failed"] = counts["failed"]
    print(json.dumps(out))
    if out["uploads"]["uploads_201"] == 0:
        # No upload landed: the loaded phase measured nothing under load.
        raise SystemExit("dhcp-uploads.py: no upload got a 201 during the loaded phase")


if __name__ == "__main__":
    main()
