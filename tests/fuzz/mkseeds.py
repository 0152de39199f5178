#!/usr/bin/env python3
"""tests/fuzz/mkseeds.py - writes the trace fuzzer's seed files.

The seeds are committed (tests/fuzz/seeds/trace/); run this only to make
them again after the trace format changes (include/numashadow_trace.h):

    python3 tests/fuzz/mkseeds.py tests/fuzz/seeds/trace

Each seed is small (a header and at most a few dozen 48-byte records), and
together they reach every record type, node -1, 0, 1, 63 and 64, two
processes (fork, start naming the parent, exec, exit), a gap in seq and a
LOST record, 32 and 33 processes (the fuzzer's build keeps at most 32),
call sites with their objects (named whole, cut, named in the parent, with
the path of a real file and a wrong build id), migration durations and
failures, and the files `numashadow trace` refuses or warns about (format
version 1, before call sites, and 3).
"""
import os
import struct
import sys

HDR = struct.Struct("<8sII")        # magic, version, rec_size
REC = struct.Struct("<QQQQiiHhI")   # seq time addr len pid tid type node aux
assert REC.size == 48
(START, MMAP, MUNMAP, MPROTECT, MREMAP, MREMAP_TO, MADVISE, BRK, FORK,
 EXEC, EXIT, FAULT, COW, MIGRATE, NEXT_TOUCH, BALANCE, LOST, OBJECT, BYTES,
 SITE, FRAME, MIGRATE_END, MIGRATE_FAIL) = range(1, 24)


def header(version=2, rec_size=48, magic=b"NSTRACE\0"):
    return HDR.pack(magic, version, rec_size)


def rec(seq, t, typ, pid=100, tid=None, addr=0, length=0, node=-1, aux=0):
    return REC.pack(seq, 1_000_000_000 + t, addr, length, pid,
                    pid if tid is None else tid, typ, node, aux)


def family():
    a, b = 100, 101
    base = 0x7F0000000000
    r = [
        rec(1, 0, START, a),
        rec(2, 10, MMAP, a, addr=base, length=1 << 20, aux=3 | 0x22 << 8),
        rec(3, 20, MMAP, a, addr=base + (1 << 20), length=4096,
            aux=5 | 0x1 << 8 | 0x100000 << 8),
        rec(4, 30, FAULT, a, addr=base, length=16 << 12, node=0),
        rec(5, 40, FAULT, a, addr=base + (16 << 12), length=4 << 12, node=-1),
        rec(6, 50, MPROTECT, a, addr=base, length=4096, aux=1 | 0x01000000),
        rec(7, 60, MADVISE, a, addr=base, length=8192, aux=4),
        rec(8, 70, MADVISE, a, addr=base, length=8192, aux=77),
        rec(9, 80, MREMAP, a, addr=base, length=2 << 20, aux=1 | 2),
        rec(10, 90, MREMAP_TO, a, addr=base + (8 << 20), length=2 << 20),
        rec(11, 100, BRK, a, addr=0x555555560000),
        rec(12, 110, FORK, a, aux=b),
        rec(12, 115, START, b, aux=a),
        rec(13, 120, COW, b, tid=102, addr=base),
        rec(14, 130, FAULT, b, addr=base, length=2 << 12, node=1),
        rec(15, 140, FAULT, b, addr=base, length=1 << 12, node=63),
        rec(16, 150, FAULT, b, addr=base, length=1 << 12, node=64),
        rec(13, 160, MIGRATE, a, addr=base, length=16 << 12, node=1, aux=16),
        rec(14, 170, MIGRATE, a, addr=base, length=4096, node=200, aux=1),
        rec(16, 180, NEXT_TOUCH, a, tid=103, addr=base, node=0),  # seq gap
        rec(17, 190, BALANCE, a, addr=base + 4096, node=1),
        rec(18, 200, LOST, a, aux=5),
        rec(24, 210, MUNMAP, a, addr=base, length=1 << 20),
        rec(17, 220, EXEC, b),
        rec(1, 230, START, b, aux=a),
        rec(2, 240, EXIT, b),
        rec(25, 250, EXIT, a),
    ]
    return header() + b"".join(r)


def obj(seq, t, pid, oid, path, bid, cut=()):
    """An OBJECT record and its BYTES records (those in cut left out)."""
    data = bid + path
    r = [rec(seq, t, OBJECT, pid, addr=0x400000, length=len(path),
             node=len(bid), aux=oid)]
    for k in range(0, len(data), 16):
        if k // 16 not in cut:
            c = data[k:k + 16].ljust(16, b"\0")
            a, b = struct.unpack("<QQ", c)
            r.append(rec(seq + 1 + k // 16, t, BYTES, pid, addr=a, length=b,
                         node=k // 16, aux=oid))
    return r


def sites():
    a, b = 100, 101
    base = 0x7F0000000000
    r = [rec(1, 0, START, a)]
    r += obj(2, 1, a, 1, b"/bin/sh", bytes(20))
    r += obj(10, 2, a, 2, b"/nonexistent/lib.so", b"\1\2\3\4", cut=(1,))
    r += [
        rec(20, 3, SITE, a, node=3, aux=1),
        rec(21, 3, FRAME, a, tid=1, addr=0x401234, length=0x1234, node=0, aux=1),
        rec(22, 3, FRAME, a, tid=2, addr=0x402000, length=0x2000, node=1, aux=1),
        rec(23, 3, FRAME, a, tid=-1, addr=0x403000, node=2, aux=1),
        rec(24, 3, FRAME, a, tid=9, addr=0x404000, node=9, aux=7),
        rec(25, 4, SITE, a, node=99, aux=2),
        rec(26, 5, MMAP, a, addr=base, length=1 << 20, aux=3 | 0x22 << 8),
        rec(27, 6, FAULT, a, addr=base, length=8 << 12, node=0, aux=1),
        rec(28, 7, FAULT, a, addr=base + (8 << 12), length=4 << 12, node=1, aux=2),
        rec(29, 8, FAULT, a, addr=base + (12 << 12), length=1 << 12, node=-1, aux=5),
        rec(30, 9, FORK, a, aux=b),
        rec(30, 10, START, b, aux=a),
        rec(31, 11, FAULT, b, addr=base + (16 << 12), length=2 << 12, node=1, aux=1),
        rec(32, 12, MIGRATE, a, addr=base, length=16 << 12, node=1, aux=3),
        rec(33, 12, MIGRATE_END, a, addr=12345, length=2, node=0, aux=1),
        rec(34, 12, MIGRATE_FAIL, a, node=13, aux=1),
        rec(35, 12, MIGRATE_FAIL, a, node=-7, aux=1),
        rec(36, 13, MIGRATE_END, a, addr=2**64 - 1, length=2**64 - 1, node=5),
        rec(37, 14, NEXT_TOUCH, a, addr=base, node=1),
        rec(38, 15, EXIT, a),
    ]
    return header() + b"".join(r)


def many_pids(n):
    return header() + b"".join(
        rec(1, i, FAULT, pid=1000 + i * 7919 % 4000000, node=i * 2 % 66 - 1,
            length=4096 * (i + 1)) for i in range(n))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/seeds/trace"
    os.makedirs(out, exist_ok=True)
    fam = family()
    one = header() + rec(1, 0, START, 1)
    seeds = {
        "family": fam,
        "family-truncated": fam[:-20],          # last record cut: a warning
        "one-record": one,
        "header-only": header(),
        "header-short": header()[:10],
        "bad-magic": header(magic=b"NSTRACX\0") + rec(1, 0, START),
        "version-1": header(version=1) + rec(1, 0, START),
        "version-3": header(version=3) + rec(1, 0, START),
        "sites": sites(),
        "rec-size-40": header(rec_size=40) + rec(1, 0, START),
        "pid-0": header() + rec(1, 0, START) + rec(2, 5, MMAP, pid=0),
        "pid-max": header() + rec(1, 0, START, pid=4194304)
                   + rec(2, 5, EXIT, pid=4194305),
        "type-999": header() + rec(1, 0, START) + rec(2, 5, 999),
        "time-span": header() + rec(1, 0, START)
                     + REC.pack(2, 2**64 - 1, 0, 2**64 - 1, 100, 100,
                                FAULT, 0, 0)
                     + REC.pack(3, 0, 0, 2**64 - 1, 100, 100, MIGRATE, 3,
                                2**32 - 1),
        # 32 processes: the fuzzer's build keeps at most 32 (Makefile).
        "many-pids": many_pids(32),
        "too-many-pids": many_pids(33),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
