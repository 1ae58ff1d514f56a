#!/usr/bin/env python3
"""Writes the TFTP payloads of classic pcap files (requests to port 69 and the flows that follow
them) into seeds/tftp/, one file per datagram: how the TFTP fuzz seeds were made.

    fuzz/make_tftp_seeds.py ../tests/fixtures/pcap/{tftp,lab,netboot}/*.pcap
"""
import os
import struct
import sys

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "tftp")
os.makedirs(out, exist_ok=True)
n = 0
for path in sys.argv[1:]:
    b = open(path, "rb").read()
    magic = b[:4]
    if magic not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1"):
        continue
    le = magic != b"\xa1\xb2\xc3\xd4"
    fmt = "<IIII" if le else ">IIII"
    link = struct.unpack("<I" if le else ">I", b[20:24])[0] & 0xFFFF
    pos, clients, seen = 24, set(), set()
    stem = os.path.splitext(os.path.basename(path))[0]
    frame = 0
    while pos + 16 <= len(b):
        _, _, incl, _ = struct.unpack(fmt, b[pos:pos + 16])
        d = b[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        frame += 1
        if link == 1 and d[12:14] == b"\x08\x00":
            ip = d[14:]
        elif link == 113 and d[14:16] == b"\x08\x00":
            ip = d[16:]
        else:
            continue
        if len(ip) < 28 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        sport, dport, ulen = struct.unpack(">HHH", ip[ihl:ihl + 6])
        payload = ip[ihl + 8:ihl + ulen]
        if dport == 69:
            clients.add(sport)
        if dport == 69 or sport in clients or dport in clients:
            if payload in seen:
                continue
            seen.add(payload)
            open(os.path.join(out, f"{stem}-{frame}.bin"), "wb").write(payload)
            n += 1
print(f"{n} payloads written to {out}")
