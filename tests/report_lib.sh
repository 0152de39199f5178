# tests/report_lib.sh - sourced (after nothing else) by the report_*.sh
# tests in tests/integration/, run from the project root: int_lib.sh, the
# two programs and python3 they need, and the traces they read, each made
# by the one function that every test reading it calls.
. tests/int_lib.sh
PROG=$(pwd)/build/tests/progs/trace_prog
SITES=$(pwd)/build/tests/progs/report_prog
need "$PROG" "$SITES"
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

# traced_run: build/tests/progs/trace_prog under --interleave=all, its
# stdout in $tmp/out, its trace in $tmp/t.tr, the text report of it in
# $tmp/txt (asked with nothing said on stderr).  Stops the test on failure:
# nothing after it means anything without the trace.
traced_run() {
	"$NS" run --trace "$tmp/t.tr" --interleave=all -- "$PROG" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 0 ] || { echo "FAIL: run --trace: exit $rc: $(cat "$tmp/err")"; exit 1; }
	"$NS" report "$tmp/t.tr" >"$tmp/txt" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 0 ] || fail "report: exit $rc: $(cat "$tmp/err")"
	[ -s "$tmp/err" ] && fail "report: said '$(cat "$tmp/err")'"
}

# sites_run: build/tests/progs/report_prog (two allocation functions
# placing 48 and 16 pages, each region migrated once, a child sharing
# both at its exit) under --interleave=all: its stdout in $tmp/s.out, the
# trace $tmp/s.tr, its report as JSON in $tmp/s.json and as text in
# $tmp/s.txt; $nodes is this host's number of NUMA nodes.
sites_run() {
	"$NS" run --trace "$tmp/s.tr" --interleave=all -- "$SITES" >"$tmp/s.out" 2>"$tmp/err" ||
		{ echo "FAIL: run report_prog: $(cat "$tmp/err")"; exit 1; }
	"$NS" report --format json "$tmp/s.tr" >"$tmp/s.json" 2>"$tmp/err" ||
		fail "report of report_prog: $(cat "$tmp/err")"
	"$NS" report "$tmp/s.tr" >"$tmp/s.txt" 2>"$tmp/err" ||
		fail "report (text) of report_prog: $(cat "$tmp/err")"
	nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
}

# made_trace FILE: writes a trace with known numbers (format 2, made here
# so every number in its report can be worked out by hand; docs/report.md
# shows its text report).  pid 100 maps 16 pages at 0x10000000, 8 go to
# node 0 and 8 to node 1, 2 elsewhere to the kernel's choice; page 0
# moves 0 -> 1 -> 0 -> 1 (two returns), page 1 to node 1; two migrate
# calls (5 pages of 16, 0 of 4); 3 records said lost and a gap of 2.
made_trace() {
	python3 - "$1" <<'PY'
import struct, sys
T = dict(start=1, mmap=2, exit=11, fault=12, migrate=14, next_touch=15, balance=16, lost=17)
B, P = 0x10000000, 4096
recs = [("start", 0, 0, -1, 0), ("mmap", B, 16 * P, -1, 3 | 0x22 << 8),
        ("fault", B, 8 * P, 0, 0), ("fault", B + 8 * P, 8 * P, 1, 0),
        ("fault", 0x20000000, 2 * P, -1, 0),
        ("next_touch", B, P, 1, 0), ("next_touch", B, P, 0, 0),
        ("balance", B, P, 1, 0), ("balance", B + P, P, 1, 0),
        ("migrate", B, 16 * P, 1, 5), ("migrate", B, 4 * P, 0, 0),
        ("lost", 0, 0, -1, 3), ("exit", 0, 0, -1, 0)]
with open(sys.argv[1], "wb") as f:
    f.write(b"NSTRACE\0" + struct.pack("<II", 2, 48))
    seq = 0
    for i, (t, a, l, n, aux) in enumerate(recs):
        seq += 3 if t == "exit" else 1	# two records missing before EXIT
        f.write(struct.pack("<QQQQiiHhI", seq, 1000000 + i * 1000, a, l, 100, 100, T[t], n, aux))
PY
	[ -s "$1" ] || { echo "FAIL: python3 wrote no trace $1"; exit 1; }
}

# sites_trace FILE: writes a trace (format 2) of call sites whose objects
# cannot be read here, and of migration outcomes.  Site 1's frames:
# object 1, a file that does not exist, then object 2, report_prog with a
# build id of zeros; site 2's object 3 has its path cut (a BYTES record
# missing).  A fork child's FAULT names its parent's site 1 (2 pages on
# node 1).  Ten migrate calls of 1 to 10 us (one whose move_pages
# failed), 3 pages EACCES, 2 EBUSY, 1 of an unknown class.
sites_trace() {
	python3 - "$1" "$SITES" <<'PY'
import struct, sys
T = dict(start=1, mmap=2, fork=9, exit=11, fault=12, migrate=14, object=18, bytes=19,
         site=20, frame=21, migrate_end=22, migrate_fail=23)
B, P, recs = 0x10000000, 4096, []
def rec(t, a=0, l=0, n=-1, aux=0, tid=100, pid=100):
    recs.append((t, a, l, n, aux, tid, pid))
def obj(i, path, bid, cut=False):
    data = bid + path.encode()
    rec("object", 0x400000, len(path), len(bid), i)
    for k in range(0, len(data), 16):
        if cut and k == 16:
            continue
        c = data[k:k + 16].ljust(16, b"\0")
        rec("bytes", *struct.unpack("<QQ", c), k // 16, i)
rec("start")
obj(1, "/nonexistent/libgone.so", b"\1\2\3\4")
obj(2, sys.argv[2], bytes(20))
obj(3, "/nonexistent/a/long/path/libcut.so", b"\5" * 20, cut=True)
rec("site", n=2, aux=1); rec("frame", 0x401234, 0x1234, 0, 1, tid=1); rec("frame", 0x401302, 0x1302, 1, 1, tid=2)
rec("site", n=1, aux=2); rec("frame", 0x401000, 0x1000, 0, 2, tid=3)
rec("mmap", B, 16 * P, -1, 3 | 0x22 << 8)
rec("fault", B, 8 * P, 0, 1); rec("fault", B + 8 * P, 4 * P, 1, 2); rec("fault", B + 12 * P, 4 * P, 0, 0)
rec("fork", aux=101); rec("start", aux=100, pid=101, tid=101)
rec("fault", B + 20 * P, 2 * P, 1, 1, pid=101, tid=101)
for i in range(10):
    rec("migrate", B, 16 * P, 1, 0)
    rec("migrate_end", (i + 1) * 1000, 0, 5 if i == 3 else 0, 0)
rec("migrate_fail", 0, 0, 13, 3); rec("migrate_fail", 0, 0, 16, 2); rec("migrate_fail", 0, 0, 99, 1)
rec("exit")
with open(sys.argv[1], "wb") as f:
    f.write(b"NSTRACE\0" + struct.pack("<II", 2, 48))
    seq = {}
    for i, (t, a, l, n, aux, tid, pid) in enumerate(recs):
        seq[pid] = seq.get(pid, seq.get(100, 0) if t == "start" and aux else 0) + 1
        f.write(struct.pack("<QQQQiiHhI", seq[pid], 1000000 + i, a, l, pid, tid, T[t], n, aux))
PY
	[ -s "$1" ] || { echo "FAIL: python3 wrote no trace $1"; exit 1; }
}

# has_lines LABEL FILE LINE...: FILE holds each LINE (fixed text) whole
# within one of its lines.
has_lines() {
	label=$1 file=$2
	shift 2
	for line in "$@"; do
		grep -qF -- "$line" "$file" || fail "$label: no '$line': $(cat "$file")"
	done
}
