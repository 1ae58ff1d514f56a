#!/usr/bin/env python3
"""The client side of bench/storm.sh: N simulated PXE clients booting from `recon serve` at once.

Runs inside the client namespace, as a DHCP relay agent (RFC 2131 section 4.1, RFC 1542): every
client's DHCP goes to the server's port 67 with giaddr --giaddr, and the replies come back to
giaddr:67, where one thread hands each to its client by xid. The client namespace has a local
route for the relayed subnet, so each client then talks TFTP and HTTP from the address it was
leased, as a real node would. Each client does what a PXE ROM, iPXE and the agent do:

  1. DHCP as a PXE ROM (DISCOVER, OFFER, REQUEST, ACK; option 60 PXEClient, 93 arch 0);
  2. TFTP of the boot file the ACK names (undionly.kpxe), blksize 1428, ACKs resent on a 1 s
     timeout, the whole transfer started again after 8 timeouts in a row;
  3. DHCP again as iPXE (option 77 "iPXE", option 175);
  4. HTTP: the boot script the ACK names (its token and its kernel and initrd URLs), the kernel,
     the initrd (each checked against Content-Length), then the inventory upload with the token:
     done at the 201.

Everything is retried (DHCP every 2 s, a NAK starts again at DISCOVER; HTTP after 0.5-2 s) until
--deadline. With --flood R, one more thread sends R DISCOVERs a second from made-up clients
(random MACs) through a second relay address, --flood-giaddr, for as long as the storm runs.
With --renew, after every client is done (and the server restarted by storm.sh), each client
asks for its address again (REQUEST, INIT-REBOOT) and must be ACKed the same one.

Prints one JSON document: per client its times, retries and outcome; the totals. Writes each
acknowledged upload (MAC, the body sent) as a JSON line to --acked, for storm.sh's check.
Bounded: every client gives up at --deadline, the flood stops with the storm.
"""

import argparse
import json
import os
import queue
import random
import socket
import struct
import threading
import time

COOKIE = b"\x63\x82\x53\x63"

# --impair: loss, duplication and reordering of every DHCP and TFTP datagram, both ways, applied
# here (the host kernel may have no sch_netem); percent each.
IMPAIR = {"loss": 0.0, "dup": 0.0, "reorder": 0.0}
IMPAIRED = {"lost_out": 0, "lost_in": 0, "duplicated": 0, "reordered": 0}


def send(sock, data, addr):
    """sendto, impaired: dropped, sent twice, or held back 5 ms (so later datagrams pass it)."""
    if random.random() * 100 < IMPAIR["loss"]:
        IMPAIRED["lost_out"] += 1
        return
    if random.random() * 100 < IMPAIR["reorder"]:
        IMPAIRED["reordered"] += 1
        threading.Timer(0.005, lambda: sock.sendto(data, addr)).start()
    else:
        sock.sendto(data, addr)
    if random.random() * 100 < IMPAIR["dup"]:
        IMPAIRED["duplicated"] += 1
        sock.sendto(data, addr)


def lost_in():
    """Whether a datagram just received counts as lost on its way here."""
    if random.random() * 100 < IMPAIR["loss"]:
        IMPAIRED["lost_in"] += 1
        return True
    return False
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK = 1, 2, 3, 4, 5, 6


def mac_of(n):
    return bytes([0x52, 0x54, 0x01, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF])


def mac_text(mac, sep=":"):
    return sep.join("%02x" % b for b in mac)


def dhcp_message(kind, xid, mac, giaddr, ipxe=False, requested=None, server_id=None, ciaddr=None):
    head = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s",
        1, 1, 6, 1, xid, 0, 0,
        socket.inet_aton(ciaddr or "0.0.0.0"), b"\0" * 4, b"\0" * 4, socket.inet_aton(giaddr),
        mac + b"\0" * 10, b"\0" * 64, b"\0" * 128,
    )
    opts = bytes([53, 1, kind])
    opts += bytes([55, 7, 1, 3, 6, 15, 43, 60, 67])
    vendor = b"PXEClient:Arch:00000:UNDI:002001"
    opts += bytes([60, len(vendor)]) + vendor
    opts += bytes([93, 2, 0, 0, 94, 3, 1, 2, 1])
    opts += bytes([97, 17, 0]) + bytes(10) + mac
    if ipxe:
        opts += bytes([77, 4]) + b"iPXE" + bytes([175, 3, 0x13, 1, 1])
    if requested:
        opts += bytes([50, 4]) + socket.inet_aton(requested)
    if server_id:
        opts += bytes([54, 4]) + socket.inet_aton(server_id)
    return head + COOKIE + opts + b"\xff"


def parse_dhcp(d):
    """(xid, type, yiaddr, siaddr, server id, boot file) or None."""
    if len(d) < 240 or d[0] != 2 or d[236:240] != COOKIE:
        return None
    xid = struct.unpack("!I", d[4:8])[0]
    yiaddr, siaddr = socket.inet_ntoa(d[16:20]), socket.inet_ntoa(d[20:24])
    file = d[108:236].split(b"\0")[0].decode(errors="replace")
    kind, sid, i = None, None, 240
    while i < len(d):
        code = d[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(d):
            break
        n = d[i + 1]
        v = d[i + 2:i + 2 + n]
        if code == 53 and n == 1:
            kind = v[0]
        elif code == 54 and n == 4:
            sid = socket.inet_ntoa(v)
        elif code == 67:
            file = v.split(b"\0")[0].decode(errors="replace")
        i += 2 + n
    return xid, kind, yiaddr, siaddr, sid, file


class Relay:
    """The relay socket: sends for every client, hands replies out by xid."""

    def __init__(self, giaddr, server):
        self.giaddr, self.server = giaddr, server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((giaddr, 67))
        self.waiting = {}
        self.lock = threading.Lock()
        self.stray = 0
        threading.Thread(target=self.receive, daemon=True).start()

    def receive(self):
        while True:
            d = self.sock.recv(4096)
            if lost_in():
                continue
            p = parse_dhcp(d)
            with self.lock:
                q = self.waiting.get(p[0]) if p else None
            if q:
                q.put(p)
            else:
                self.stray += 1

    def exchange(self, msg, xid, timeout):
        q = queue.Queue()
        with self.lock:
            self.waiting[xid] = q
        try:
            send(self.sock, msg, (self.server, 67))
            return q.get(timeout=timeout)
        except queue.Empty:
            return None
        finally:
            with self.lock:
                self.waiting.pop(xid, None)


class Client:
    def __init__(self, n, a, relay, template, deadline):
        self.n, self.a, self.relay, self.deadline = n, a, relay, deadline
        self.mac = mac_of(n)
        self.template = template
        self.ip = None
        self.retries = {"dhcp": 0, "nak": 0, "tftp_timeouts": 0, "tftp_restarts": 0, "http": 0}
        self.times = {}
        self.error = None
        self.done = False
        self.status = {}
        self.started = None

    def left(self):
        return self.deadline - time.monotonic()

    def dora(self, ipxe):
        while self.left() > 0:
            xid = random.getrandbits(32)
            off = self.relay.exchange(dhcp_message(DISCOVER, xid, self.mac, self.a.giaddr, ipxe), xid, 2.0)
            if not off or off[1] != OFFER:
                self.retries["dhcp"] += 1
                continue
            _, _, yiaddr, _, sid, _ = off
            req = dhcp_message(REQUEST, xid, self.mac, self.a.giaddr, ipxe, requested=yiaddr, server_id=sid)
            ack = self.relay.exchange(req, xid, 2.0)
            if not ack:
                self.retries["dhcp"] += 1
                continue
            if ack[1] == NAK:
                self.retries["nak"] += 1
                continue
            if ack[1] == ACK:
                return ack
        raise TimeoutError("DHCP")

    def tftp(self, server, name):
        while self.left() > 0:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((self.ip, 0))
            s.settimeout(1.0)
            try:
                got = self.tftp_once(s, server, name)
                if got is not None:
                    return got
            finally:
                s.close()
            self.retries["tftp_restarts"] += 1
        raise TimeoutError("TFTP")

    def tftp_once(self, s, server, name):
        blksize = 1428
        rrq = b"\0\1" + name.encode() + b"\0octet\0blksize\0" + str(blksize).encode() + b"\0"
        last, peer, expected, size, misses = rrq, (server, 69), 1, 0, 0
        send(s, rrq, peer)
        while self.left() > 0:
            try:
                d, frm = s.recvfrom(65536)
            except socket.timeout:
                misses += 1
                self.retries["tftp_timeouts"] += 1
                if misses >= 8:
                    return None
                send(s, last, peer)
                continue
            if lost_in() or frm[0] != server or len(d) < 4:
                continue
            if peer[1] == 69:
                peer = frm  # the transfer's own port (RFC 1350 section 4)
            elif frm != peer:
                continue
            op = struct.unpack("!H", d[:2])[0]
            if op == 6:  # OACK (RFC 2347)
                opts = d[2:].split(b"\0")
                for k, v in zip(opts[::2], opts[1::2]):
                    if k.lower() == b"blksize":
                        blksize = int(v)
                if expected == 1:
                    last = b"\0\4\0\0"
                    send(s, last, peer)
                continue
            if op == 5:
                raise RuntimeError("TFTP error %r" % d[4:].split(b"\0")[0])
            if op != 3:
                continue
            block = struct.unpack("!H", d[2:4])[0]
            if block == expected & 0xFFFF:
                misses = 0
                size += len(d) - 4
                last = b"\0\4" + d[2:4]
                send(s, last, peer)
                expected += 1
                if len(d) - 4 < blksize:
                    return size
        return None

    def http(self, method, path, body=None, headers=None):
        """One exchange from this client's address, retried until the deadline; (status, body)."""
        while self.left() > 0:
            try:
                c = socket.create_connection((self.a.server, 80), timeout=30, source_address=(self.ip, 0))
            except OSError:
                self.retries["http"] += 1
                time.sleep(random.uniform(0.5, 2))
                continue
            try:
                lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % self.a.server, "Connection: close"]
                for k, v in (headers or {}).items():
                    lines.append("%s: %s" % (k, v))
                if body is not None:
                    lines.append("Content-Length: %d" % len(body))
                c.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
                data, buf = bytearray(), bytearray(1 << 20)
                while True:
                    n = c.recv_into(buf)
                    if not n:
                        break
                    data += buf[:n]
                head, _, rest = bytes(data).partition(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = None
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v)
                if length is not None and len(rest) != length:
                    raise OSError("short body: %d of %d" % (len(rest), length))
                if status in (200, 201):
                    return status, rest
                if status in (401, 403, 404):
                    raise RuntimeError("%s %s: %d %s" % (method, path, status, rest[:200]))
                self.retries["http"] += 1
                time.sleep(random.uniform(0.5, 2))
            except (OSError, ValueError, IndexError):
                self.retries["http"] += 1
                time.sleep(random.uniform(0.5, 2))
            finally:
                c.close()
        raise TimeoutError("HTTP " + path)

    def run(self):
        t0 = self.started = time.monotonic()
        try:
            ack = self.dora(False)
            self.ip = ack[2]
            self.times["dhcp"] = time.monotonic() - t0
            tftp_server = ack[4] if ack[3] == "0.0.0.0" else ack[3]
            size = self.tftp(tftp_server, ack[5])
            self.times["tftp"] = time.monotonic() - t0
            self.status["tftp_octets"] = size
            ack = self.dora(True)
            if ack[2] != self.ip:
                raise RuntimeError("iPXE was leased %s, the ROM %s" % (ack[2], self.ip))
            script_url = ack[5].replace("${mac:hexhyp}", mac_text(self.mac, "-")).replace("${mac}", mac_text(self.mac))
            path = "/" + script_url.split("/", 3)[3] if script_url.startswith("http://") else "/boot.ipxe"
            if "mac=" not in path:
                path += ("&" if "?" in path else "?") + "mac=" + mac_text(self.mac, "-")
            _, script = self.http("GET", path)
            words = script.decode().split()
            token = next(w.split("=", 1)[1] for w in words if w.startswith("recon.token="))
            urls = [w for w in words if w.startswith("http://")]
            kernel = next(u for u in urls if u.rsplit("/", 1)[-1].startswith(self.a.kernel))
            initrd = next(u for u in urls if u.rsplit("/", 1)[-1].startswith(self.a.initrd))
            for u in (kernel, initrd):
                _, b = self.http("GET", "/" + u.split("/", 3)[3])
                self.status[u.rsplit("/", 1)[-1]] = len(b)
            self.times["http"] = time.monotonic() - t0
            doc = json.loads(self.template)
            doc["run"]["boot_mac"] = mac_text(self.mac)
            doc["system"]["serial"] = "STORM-%d" % self.n
            body = json.dumps(doc).encode()
            headers = {"Content-Type": "application/json", "Authorization": "Bearer " + token}
            status, _ = self.http("POST", "/api/v1/nodes/%s/inventory" % mac_text(self.mac), body, headers)
            self.times["uploaded"] = time.monotonic() - t0
            self.done = status == 201
            if self.done:
                with ACKED_LOCK:
                    ACKED.write(json.dumps({"mac": mac_text(self.mac), "ip": self.ip, "doc": doc}) + "\n")
                    ACKED.flush()
        except Exception as e:  # noqa: BLE001 (each client's failure is reported, not raised)
            self.error = "%s: %s" % (type(e).__name__, e)

    def renew(self):
        """INIT-REBOOT (RFC 2131 section 4.3.2): the same address, or the lease was lost."""
        while self.left() > 0:
            xid = random.getrandbits(32)
            ack = self.relay.exchange(dhcp_message(REQUEST, xid, self.mac, self.a.giaddr, True, requested=self.ip), xid, 2.0)
            if ack and ack[1] in (ACK, NAK):
                return ack[2] if ack[1] == ACK else "NAK"
        return "timeout"


def flood(a, stop, counts):
    """Runs in a process of its own (its own interpreter lock), so the clients' threads do not
    slow it: `counts` are shared values."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.flood_giaddr, 67))
    s.setblocking(False)
    t0 = time.monotonic()
    sent = 0
    while not stop.is_set() and time.monotonic() - t0 < a.deadline:
        due = int((time.monotonic() - t0) * a.flood)
        while sent < due:
            mac = bytes([0x02]) + os.urandom(5)
            try:
                s.sendto(dhcp_message(DISCOVER, random.getrandbits(32), mac, a.flood_giaddr), (a.server, 67))
            except BlockingIOError:
                pass
            sent += 1
        try:
            while True:
                s.recv(4096)
                counts[1] += 1
        except BlockingIOError:
            pass
        counts[0] = sent
        time.sleep(0.002)
    counts[0] = sent


ACKED = None
ACKED_LOCK = threading.Lock()


def main():
    global ACKED
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--giaddr", required=True)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--first", type=int, default=1, help="the first client's number (its MAC)")
    ap.add_argument("--spread", type=float, default=10.0, help="clients power on over this many seconds")
    ap.add_argument("--deadline", type=float, default=900.0)
    ap.add_argument("--inventory", required=True)
    ap.add_argument("--acked", required=True)
    ap.add_argument("--kernel", default="vmlinuz")
    ap.add_argument("--initrd", default="initrd.img")
    ap.add_argument("--flood", type=float, default=0.0)
    ap.add_argument("--flood-giaddr", default="")
    ap.add_argument("--impair", type=float, default=0.0,
                    help="percent of DHCP and TFTP datagrams lost, and again duplicated, and reordered, each way")
    ap.add_argument("--renew-file", default="", help="after the storm: wait for this file, then renew")
    a = ap.parse_args()
    threading.stack_size(512 << 10)
    IMPAIR.update(loss=a.impair, dup=a.impair, reorder=a.impair)
    ACKED = open(a.acked, "a")
    relay = Relay(a.giaddr, a.server)
    template = open(a.inventory).read()
    deadline = time.monotonic() + a.deadline
    clients = [Client(a.first + i, a, relay, template, deadline) for i in range(a.clients)]
    import multiprocessing

    stop, fcounts = multiprocessing.Event(), multiprocessing.Array("q", 2)
    flooder = None
    if a.flood > 0:
        flooder = multiprocessing.Process(target=flood, args=(a, stop, fcounts), daemon=True)
        flooder.start()
    t0 = time.monotonic()
    threads = []
    for i, c in enumerate(clients):
        at = t0 + a.spread * i / max(1, len(clients))
        time.sleep(max(0.0, at - time.monotonic()))
        t = threading.Thread(target=c.run, daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 5)
    elapsed = time.monotonic() - t0
    stop.set()
    if flooder:
        flooder.join(5)
        if flooder.is_alive():
            flooder.terminate()
    renewed = {}
    if a.renew_file:
        print("storm.py: all clients ended; waiting for %s" % a.renew_file, flush=True, file=__import__("sys").stderr)
        while not os.path.exists(a.renew_file) and time.monotonic() < deadline:
            time.sleep(0.2)
        for c in clients:
            if c.ip:
                renewed[mac_text(c.mac)] = (c.ip, c.renew())
    done = [c for c in clients if c.done]
    ips = [c.ip for c in clients if c.ip]
    total = lambda k: sum(c.retries[k] for c in clients)
    out = {
        "clients": len(clients),
        "uploaded": len(done),
        # From the first client's power-on to the last one's 201.
        "seconds_to_all_uploaded": round(max(c.started - t0 + c.times["uploaded"] for c in done), 1)
        if done and len(done) == len(clients) else None,
        "elapsed_s": round(elapsed, 1),
        "p50_s": round(sorted(c.times["uploaded"] for c in done)[len(done) // 2], 1) if done else None,
        "retries": {k: total(k) for k in clients[0].retries} if clients else {},
        "duplicate_addresses": len(ips) - len(set(ips)),
        "failed": [{"mac": mac_text(c.mac), "error": c.error, "times": c.times} for c in clients if not c.done][:20],
        "relay_stray_replies": relay.stray,
        "flood": {"sent": fcounts[0], "replies": fcounts[1], "per_s": round(fcounts[0] / max(elapsed, 0.001))}
        if a.flood > 0 else None,
        "impaired": IMPAIRED if a.impair > 0 else None,
    }
    if a.renew_file:
        out["renewed_same"] = sum(1 for ip, got in renewed.values() if got == ip)
        out["renew_lost"] = [(m, ip, got) for m, (ip, got) in renewed.items() if got != ip][:20]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
