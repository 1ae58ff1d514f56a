#!/usr/bin/env python3
"""A two-port Ethernet bridge that loses and reorders frames, for tests on kernels without
tc netem (this project's CI kernel has CONFIG_NET_SCH_NETEM off).

    impair.py IF_A IF_B --loss 0.05 --reorder 0.1 [--seed N] [--limit SECONDS]

Runs inside a network namespace that holds both interfaces and no addresses: every frame that
comes in on one goes out of the other, except that a fraction is dropped and a fraction is held
back and sent after the next frame in the same direction (or after 2 ms), so it arrives out of
order. Stops by itself after --limit seconds. The endpoints must have transmit checksum offload
off (ethtool -K DEV tx off), since frames are copied as they are.
"""
import argparse
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4

p = argparse.ArgumentParser()
p.add_argument("a")
p.add_argument("b")
p.add_argument("--loss", type=float, default=0.0)
p.add_argument("--reorder", type=float, default=0.0)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--limit", type=float, default=600.0)
args = p.parse_args()
rng = random.Random(args.seed)

socks = {}
for name in (args.a, args.b):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    socks[name] = s
peer = {args.a: socks[args.b], args.b: socks[args.a]}
held = {args.a: None, args.b: None}  # (frame, since)
by_fd = {s.fileno(): n for n, s in socks.items()}
stats = {"in": 0, "lost": 0, "reordered": 0}
end = time.monotonic() + args.limit


def stop(*_):
    print(f"impair: stopped {stats}", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
print(f"impair: {args.a} <-> {args.b} loss {args.loss} reorder {args.reorder}", flush=True)
while time.monotonic() < end:
    ready, _, _ = select.select(list(socks.values()), [], [], 0.002)
    now = time.monotonic()
    for name, h in held.items():
        if h is not None and now - h[1] > 0.002:
            peer[name].send(h[0])
            held[name] = None
    for s in ready:
        name = by_fd[s.fileno()]
        frame, addr = s.recvfrom(65536)
        if addr[2] == PACKET_OUTGOING:
            continue
        stats["in"] += 1
        if rng.random() < args.loss:
            stats["lost"] += 1
            continue
        out = peer[name]
        if held[name] is None and rng.random() < args.reorder:
            held[name] = (frame, now)
            stats["reordered"] += 1
            continue
        out.send(frame)
        if held[name] is not None:
            out.send(held[name][0])
            held[name] = None
print(f"impair: done {stats}", flush=True)
