#!/usr/bin/env python3
"""Writes the seeds of the HTTP, DNS, upload, SMBIOS and pcap targets into seeds/<target>/: small
well-formed inputs of each kind, and the SMBIOS dumps and pcap files of the test fixtures. How
those seeds were made; run it again after the fixtures change.

    fuzz/make_seeds.py [RECON_BINARY]   (the binary writes the upload seed from a fixture tree)
"""
import json
import os
import struct
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "..", "tests", "fixtures")


def put(target, name, data):
    d = os.path.join(here, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# The master's HTTP requests, as iPXE, curl, Chromium and the agent send them.
heads = {
    "ipxe-boot": "GET /boot.ipxe?mac=52:54:00:00:00:01 HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1\r\nHost: 10.0.0.1\r\n\r\n",
    "curl-range": "GET /recon.iso HTTP/1.1\r\nHost: 10.0.0.1\r\nRange: bytes=0-1023\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    "head-live": "HEAD /live/vmlinuz HTTP/1.0\r\n\r\n",
    "upload": "PUT /api/v1/inventory/52:54:00:00:00:01 HTTP/1.1\r\nHost: 10.0.0.1\r\nAuthorization: Bearer 00ff\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    "chunked": "POST /api/v1/events/52:54:00:00:00:01 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    "fleet": "GET /api/v1/fleet HTTP/1.1\r\nHost: recon\r\nAccept: application/json\r\n\r\n",
    "expect": "POST /api/v1/inventory/52:54:00:00:00:01 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n",
}
for name, h in heads.items():
    put("http_head", name, h)

# Chunked bodies; the first octet is where the target splits the rest.
put("http_chunked", "one", b"\x05" + b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n")
put("http_chunked", "ext-trailer", b"\x09" + b"4;name=v\r\nWiki\r\n0\r\nX-T: 1\r\n\r\n")
put("http_chunked", "hex", b"\x00" + b"1A\r\n" + b"a" * 26 + b"\r\n0\r\n\r\n")

# Range values against a representation length (8 octets, little-endian, first).
for name, n, v in [("first", 1000, "bytes=0-99"), ("suffix", 1000, "bytes=-100"), ("open", 1000, "bytes=900-"),
                   ("multi", 1 << 30, "bytes=0-1,5-9"), ("beyond", 10, "bytes=20-30")]:
    put("http_range", name, struct.pack("<Q", n) + v.encode())

# The agent's view of the master's answers.
put("http_response", "created", "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
put("http_response", "manifest", 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{"upload_url":"http://x/a"}')
put("http_response", "chunked", "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbusy\r\n0\r\n\r\n")

# DNS queries (RFC 1035, section 4.1): A for recon, AAAA for recon, A for a name it does not know.
def query(qid, name, qtype):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)
put("dns", "a-recon", query(0x1234, "recon", 1))
put("dns", "aaaa-recon", query(0x1235, "recon", 28))
put("dns", "a-other", query(0x1236, "example.org", 1))
put("dns", "pointer", struct.pack(">HHHHHH", 7, 0x0100, 2, 0, 0, 0) + b"\x05recon\x00\x00\x01\x00\x01\xc0\x0c\x00\x01\x00\x01")

# SMBIOS entry points and tables as dmidecode --dump-bin and the kernel write them.
for sub in ["rust-dmidecode", "go-smbios"]:
    d = os.path.join(fixtures, "smbios", sub)
    for f in sorted(os.listdir(d)):
        if f.endswith((".bin", ".dmi")):
            put("smbios", f"{sub}-{f}", open(os.path.join(d, f), "rb").read())

# Captures: classic pcap in both time resolutions, pcapng, Linux cooked.
for rel in ["netboot/dhcp.pcap", "netboot/nsec.pcap", "lab/linux-clients.pcap", "lab/bios-ipxe.pcap",
            "tcpdump/dhcp-option-108.pcapng", "tcpdump/bootp_asan.pcap"]:
    p = os.path.join(fixtures, "pcap", rel)
    put("pcap", rel.replace("/", "-"), open(p, "rb").read())

# An upload: the fixture VM's inventory, compact, as a peer sends it.
recon = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "target", "debug", "recon")
out = subprocess.run([recon, "inventory", "--root", os.path.join(fixtures, "firecracker-vm"), "--format", "json", "--raw"],
                     check=True, capture_output=True).stdout
inv = json.loads(out)
put("upload_body", "firecracker-vm.json", json.dumps(inv, separators=(",", ":")))
inv["run"]["boot_mac"] = "52:54:00:00:00:01"
put("upload_body", "own-mac.json", json.dumps(inv, separators=(",", ":")))
inv["run"]["boot_mac"] = "52:54:00:00:00:02"
put("upload_body", "other-mac.json", json.dumps(inv, separators=(",", ":")))
put("upload_body", "empty", "{}")
