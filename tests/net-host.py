#!/usr/bin/env python3
"""The host side of the network tests (tests/guest-net.t, tests/net-vm.t):
ICMP ping, a UDP echo client, a UDP server (echo or sink, with its measured
rate), a raw sniffer that recognises the probe's forged frames, and a line
typed on an hv VM's serial console.

    net-host.py ping DST N
    net-host.py echo DST N
    net-host.py serve ADDR PORT SECONDS echo|sink READYFILE
    net-host.py sniff IFNAME SECONDS [KINDS] READYFILE   (ends once KINDS, 3, are seen)
    net-host.py console SOCKET LINE
"""
import json, socket, struct, sys, time

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def ping(dst, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(1)
    got = 0
    for seq in range(1, n + 1):
        hdr = struct.pack("!BBHHH", 8, 0, 0, 0x4856, seq) + b"hv" * 28
        try:
            s.sendto(hdr[:2] + struct.pack("!H", csum(hdr)) + hdr[4:], (dst, 0))
            while True:
                d = s.recv(2000)
                d = d[(d[0] & 15) * 4:]
                if d[0] == 0 and struct.unpack("!HH", d[4:8]) == (0x4856, seq):
                    got += 1
                    break
        except (socket.timeout, OSError):
            pass
    print("ping received=%d" % got)

def echo_client(dst, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    got = 0
    for i in range(n):
        m = b"hv-echo %d " % i + bytes(range(256)) * 2
        try:
            s.sendto(m, (dst, 7))
            d, a = s.recvfrom(2000)
            got += d == m and a == (dst, 7)
        except (socket.timeout, OSError):
            pass
    print("echo received=%d" % got)

def serve(addr, port, secs, echo, ready):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, port))
    s.settimeout(0.2)
    open(ready, "w").close()
    n = nbytes = 0
    first = last = None
    end = time.time() + secs
    while time.time() < end:
        try:
            d, a = s.recvfrom(4000)
        except socket.timeout:
            continue
        t = time.monotonic()
        first = first or t
        last = t
        n += 1
        nbytes += len(d)
        if echo:
            s.sendto(d, a)
    # the rate between the first and the last datagram, payload bits
    dt = (last - first) if first and last and last > first else 0
    print("served packets=%d bytes=%d mbit=%.1f" % (n, nbytes, nbytes * 8 / dt / 1e6 if dt else 0))

def kind(f):
    t = struct.unpack("!H", f[12:14])[0]
    if f[6:12] == bytes.fromhex("020000000099"):
        return "spoofed-mac"
    if t == 0x0800 and f[23] == 17:
        ihl = (f[14] & 15) * 4
        sp, dp = struct.unpack("!HH", f[14 + ihl:18 + ihl])
        b = f[22 + ihl:]
        if (sp, dp) == (67, 68) and b[0] == 2 and b[236:240] == b"\x63\x82\x53\x63" \
           and b[240:243] == b"\x35\x01\x02":
            return "dhcp-offer"
    if t == 0x86DD and f[20] == 58 and f[21] == 255 and f[54] == 134:
        ip6 = f[14:54]
        body = f[54:54 + struct.unpack("!H", ip6[4:6])[0]]
        ph = ip6[8:40] + struct.pack("!IxxxB", len(body), 58)
        if csum(ph + body) == 0:
            return "router-advert"
    return None

def sniff(ifname, secs, ready, want=3):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((ifname, 0))
    s.settimeout(0.2)
    open(ready, "w").close()
    seen = set()
    end = time.time() + secs
    while time.time() < end and len(seen) < want:
        try:
            k = kind(s.recv(4000))
        except socket.timeout:
            continue
        if k:
            seen.add(k)
    print("seen " + " ".join(sorted(seen)))

def console(path, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(json.dumps({"cmd": "console"}).encode() + b"\n")
    time.sleep(0.1)
    s.sendall(line.encode() + b"\n")
    time.sleep(0.1)
    s.close()

cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "ping": ping(a[0], int(a[1]))
elif cmd == "echo": echo_client(a[0], int(a[1]))
elif cmd == "serve": serve(a[0], int(a[1]), float(a[2]), a[3] == "echo", a[4])
elif cmd == "sniff": sniff(a[0], float(a[1]), a[-1], int(a[2]) if len(a) > 3 else 3)
elif cmd == "console": console(a[0], a[1])
else: sys.exit("net-host.py: unknown command " + cmd)
