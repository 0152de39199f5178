#!/bin/sh
# report: `numashadow report FILE [--format text|json|html] [-o OUT]`.  A
# run of build/tests/progs/trace_prog under --interleave=all: the text's
# pages placed per node are the family row of `trace --summary`, the JSON
# parses and holds the same numbers, the 64-page region is the top mapping
# and its pages are its call site's.  A run of build/tests/progs/report_prog
# (two allocation functions placing 48 and 16 pages, two migrate calls, a
# child that shares both at its exit): the top call sites are alloc_table
# and alloc_buffer, symbolized (object, build id, file:line from its debug
# info), with those pages per node, two migration durations, and the top
# shared mappings are those two regions, mapped by the parent and the
# child.  A trace made here by hand (python3) with known
# faults, moves, a LOST record and a gap in record numbers: every number
# as worked out, the ping-pong page found; another with call sites whose
# objects are missing or of another build id (said so), ten migration
# durations (the percentiles as worked out) and failed pages by error.  A
# trace of format version 1 is refused in one line.  Garbage, a file cut inside its header, a corrupted
# record and a FIFO are refused in one line with status 1 and nothing on
# stdout; a bad --format in one line naming the option and its values,
# status 2.  -o writes the file (0666 less the umask), empties an old one,
# refuses a symbolic link or a FIFO and leaves OUT alone when the trace is
# refused.  Run from the project root.
. tests/int_lib.sh
PROG=$(pwd)/build/tests/progs/trace_prog
need "$PROG"
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

"$NS" run --trace "$tmp/t.tr" --interleave=all -- "$PROG" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: run --trace: exit $rc: $(cat "$tmp/err")"; exit 1; }
"$NS" trace --summary "$tmp/t.tr" >"$tmp/sum" 2>"$tmp/err" ||
	{ echo "FAIL: trace --summary: $(cat "$tmp/err")"; exit 1; }
"$NS" report "$tmp/t.tr" >"$tmp/txt" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "report: exit $rc: $(cat "$tmp/err")"
[ -s "$tmp/err" ] && fail "report: said '$(cat "$tmp/err")'"

# Pages placed per node: the family's of `trace --summary --json` (the
# table's column holds spaces when there are several nodes).
want=$("$NS" trace --summary --json "$tmp/t.tr" | python3 -c '
import json, sys
for line in sys.stdin:
    j = json.loads(line)
    if j.get("family"):
        print(" ".join("%s:%d" % kv for kv in j["placed"].items()))')
got=$(sed -n 's/^pages placed: \(.*\) (total .*/\1/p' "$tmp/txt")
[ -n "$want" ] && [ "$got" = "$want" ] ||
	fail "report: pages placed '$got', trace --summary says '$want'"
case $want in *:*) ;; *) fail "trace --summary placed no pages: $(cat "$tmp/sum")" ;; esac
for line in "run time: " "migration latency: 0 migrate calls" "lost records: 0 " \
	"call sites: " "top call sites by pages placed:" "  map (trace_prog+0x" \
	"  failed:     0 pages" "top mappings by pages placed:" \
	"top mappings by pages migrated:" "ping-pong pages"; do
	grep -q "^$line" "$tmp/txt" || fail "report: no line '$line': $(cat "$tmp/txt")"
done
region=$(awk '$1 == "present" { print $3 }' "$tmp/out")
grep -A1 '^top mappings by pages placed:' "$tmp/txt" | grep -q " $region-" ||
	fail "report: the 64-page region $region is not the top mapping: $(cat "$tmp/txt")"

# The JSON: one object, the text's numbers.
"$NS" report --format json "$tmp/t.tr" >"$tmp/json" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "report --format json: exit $rc: $(cat "$tmp/err")"
python3 -c 'import json,sys; json.load(sys.stdin)' <"$tmp/json" ||
	fail "report --format json: does not parse: $(cat "$tmp/json")"
[ "$(wc -l <"$tmp/json")" -eq 1 ] || fail "report --format json: not one line"
got=$(python3 -c '
import json, sys
j = json.load(sys.stdin)
print(" ".join("%s:%d" % kv for kv in j["placed"].items()), j["placed_total"],
      j["records"], j["processes"], j["lost"]["total"], j["latency_ns"]["calls"],
      j["call_sites"]["top_placed"][0]["placed_total"],
      j["mappings"]["top_placed"][0]["addr"])' <"$tmp/json")
tot=$(sed -n 's/^pages placed: .* (total \([0-9]*\);.*/\1/p' "$tmp/txt")
recs=$(awk '$1 == "family" { print $3 }' "$tmp/sum")
[ "$got" = "$want $tot $recs 2 0 0 $tot $region" ] ||
	fail "report --format json: '$got', want '$want $tot $recs 2 0 0 $tot $region'"

# A known program: two allocation functions, 48 and 16 pages, each region
# migrated once.  Per site: its function, its pages by node adding up (on
# a one-node host all on node 0), its object, build id and line.
SITES=$(pwd)/build/tests/progs/report_prog
need "$SITES"
"$NS" run --trace "$tmp/s.tr" --interleave=all -- "$SITES" >"$tmp/s.out" 2>"$tmp/err" ||
	fail "run report_prog: $(cat "$tmp/err")"
"$NS" report --format json "$tmp/s.tr" >"$tmp/s.json" 2>"$tmp/err" ||
	fail "report of report_prog: $(cat "$tmp/err")"
nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
got=$(python3 - "$tmp/s.json" "$nodes" "$SITES" <<'PY' 2>&1
import json, sys
j, nodes, prog = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
out = []
for s in j["call_sites"]["top_placed"]:
    f = s["frames"][s["name_frame"]]
    ok = (sum(s["placed"].values()) == s["placed_total"] and f["object"] == prog and
          f["build_id"] and f["status"] is None and
          (f["file_line"] or "").split("/")[-1].startswith("report_prog.c:") and
          (nodes != 1 or list(s["placed"]) == ["0"]))
    out.append("%s:%d:%s" % (s["function"], s["placed_total"], "ok" if ok else json.dumps(s)))
lat = j["latency_ns"]
out.append("named %d latency %d %d %s failed %d" % (j["call_sites"]["named"], lat["calls"],
           lat["samples"], 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"],
           j["migrations"]["failed"]["pages"]))
print(" ".join(out))
PY
)
want="alloc_table:48:ok alloc_buffer:16:ok named 2 latency 2 2 True failed 0"
[ "$got" = "$want" ] || fail "report of report_prog: '$got', want '$want'"
"$NS" report "$tmp/s.tr" >"$tmp/s.txt" 2>"$tmp/err" || fail "report (text) of report_prog: $(cat "$tmp/err")"
[ "$nodes" -eq 1 ] && per="(0:48)" || per="("
grep -q "^  alloc_table (report_prog+0x[0-9a-f]*, report_prog.c:[0-9]*), pid [0-9]*: 48 placed $per" "$tmp/s.txt" &&
grep -q "^  alloc_buffer (report_prog+0x[0-9a-f]*, report_prog.c:[0-9]*), pid [0-9]*: 16 placed" "$tmp/s.txt" &&
grep -q "^migration latency: 2 migrate calls, p50 [0-9.]* us, p90 .*, max [0-9.]* us" "$tmp/s.txt" ||
	fail "report (text) of report_prog: $(cat "$tmp/s.txt")"

# Its child shared both regions whole with it at its exit: the two top
# shared mappings are the table (48 pages) and the buffer (16), at the
# addresses the program printed, each mapped by the parent and the child.
got=$(python3 - "$tmp/s.json" "$tmp/s.out" <<'PY' 2>&1
import json, sys
j = json.load(open(sys.argv[1]))
lines = [l.split() for l in open(sys.argv[2])]
addr = {l[1]: int(l[2], 16) for l in lines if l[0] == "site"}
child = [int(l[1]) for l in lines if l[0] == "fork"][0]
out = []
for m in j["mappings"]["top_shared"][:2]:
    name = [k for k, v in addr.items() if v == int(m["addr"], 16)]
    mappers = sorted((x["pid"], x["pages"]) for x in m["mappers"])
    want = sorted([(m["pid"], m["shared"]), (child, m["shared"])])
    out.append("%s:%d:%s" % (name[0] if name else m["addr"], m["shared"],
               "ok" if mappers == want and m["pid"] != child else json.dumps(m)))
print(" ".join(out))
PY
)
want="alloc_table:48:ok alloc_buffer:16:ok"
[ "$got" = "$want" ] || fail "shared mappings of report_prog: '$got', want '$want'"
grep -q "^  pid [0-9]* 0x[0-9a-f]*-0x[0-9a-f]* (196608 bytes): 48 pages shared; mappers: pid [0-9]* (48), pid [0-9]* (48)$" "$tmp/s.txt" ||
	fail "report (text) of report_prog, shared mappings: $(cat "$tmp/s.txt")"

# A trace with known numbers: pid 100 maps 16 pages at 0x10000000, 8 go
# to node 0 and 8 to node 1, 2 elsewhere to the kernel's choice; page 0
# moves 0 -> 1 -> 0 -> 1 (two returns), page 1 to node 1; two migrate
# calls (5 pages of 16, 0 of 4); 3 records said lost and a gap of 2.
python3 - "$tmp/k.tr" <<'PY'
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
"$NS" report --format json "$tmp/k.tr" >"$tmp/k.json" 2>"$tmp/err" ||
	fail "report of the made trace: $(cat "$tmp/err")"
got=$(python3 -c '
import json, sys
j = json.load(sys.stdin)
m, mp, pp = j["migrations"], j["mappings"], j["ping_pong"]
print(j["placed"], j["run_time_ns"], m["migrate"]["calls"], m["migrate"]["calls_moved_none"],
      m["migrate"]["range_pages"], m["migrate"]["by_node"], m["next_touch"]["by_node"],
      m["balance"]["by_node"], j["pages_moved"], j["bytes_moved"], j["lost"],
      mp["top_placed"][0]["placed"], mp["top_placed"][0]["migrated"],
      mp["unattributed_placed"], mp["top_migrated"][0]["addr"],
      pp["pages"], pp["returns"], pp["top"])' <"$tmp/k.json" 2>&1)
want="{'0': 8, '1': 8, 'kernel': 2} 12000 2 1 20 {'1': 5} {'0': 1, '1': 1} {'1': 2} 9 36864"
want="$want {'total': 5, 'lost_records': 1, 'in_lost_records': 3, 'in_seq_gaps': 2}"
want="$want {'0': 8, '1': 8} 9 2 0x10000000 1 2 [{'pid': 100, 'addr': '0x10000000', 'returns': 2, 'node': 1}]"
[ "$got" = "$want" ] || fail "report of the made trace: '$got', want '$want'"
"$NS" report "$tmp/k.tr" >"$tmp/k.txt" 2>"$tmp/err" || fail "report (text) of the made trace: $(cat "$tmp/err")"
for line in "pages placed: 0:8 1:8 kernel:2 (total 18;" "pages moved: 9 (36864 bytes)" \
	"lost records: 5 (3 said by 1 lost records, 2 gaps" \
	"  migrate     2 calls (1 moved nothing), 20 pages in their ranges, 5 pages moved, by target node: 1:5" \
	"  pid 100 0x10000000: 2 returns, now on node 1" \
	"  outside recorded mappings: 2 placed, 0 migrated"; do
	grep -qF -- "$line" "$tmp/k.txt" || fail "report (text) of the made trace: no '$line': $(cat "$tmp/k.txt")"
done

# Call sites whose objects cannot be read here, migration outcomes.  Site
# 1's frames: object 1, a file that does not exist, then object 2,
# report_prog with a build id of zeros; site 2's object 3 has its path cut
# (a BYTES record missing).  A fork child's FAULT names its parent's site
# 1 (2 pages on node 1).  Ten migrate calls of 1 to 10 us (one whose
# move_pages failed), 3 pages EACCES, 2 EBUSY, 1 of an unknown class.
python3 - "$tmp/v.tr" "$SITES" <<'PY'
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
"$NS" report --format json "$tmp/v.tr" >"$tmp/v.json" 2>"$tmp/err" || fail "report of the sites trace: $(cat "$tmp/err")"
got=$(python3 -c '
import json, sys
j = json.load(sys.stdin)
c, l, f = j["call_sites"], j["latency_ns"], j["migrations"]["failed"]
print(c["named"], c["unknown_placed"], [(s["id"], s["placed"], s["function"]) for s in c["top_placed"]],
      [x["status"] for s in c["top_placed"] for x in s["frames"]],
      l["calls"], l["samples"], l["p50"], l["p90"], l["p99"], l["max"], f)' <"$tmp/v.json" 2>&1)
want="2 4 [(1, {'0': 8, '1': 2}, None), (2, {'1': 4}, None)] ['the object is missing on this machine',"
want="$want 'the build id of the file on this machine differs', 'its name was not recorded whole: records lost']"
want="$want 10 10 5000 9000 10000 10000 {'pages': 6, 'by_error': {'EACCES': 3, 'EBUSY': 2, 'other': 1}, 'calls_failed': 1}"
[ "$got" = "$want" ] || fail "report of the sites trace: '$got', want '$want'"
"$NS" report "$tmp/v.tr" >"$tmp/v.txt" 2>"$tmp/err" || fail "report (text) of the sites trace: $(cat "$tmp/err")"
for line in "  libgone.so+0x1234 (the object is missing on this machine), pid 100: 10 placed (0:8 1:2), 0 migrated" \
	"  object 3+0x1000 (its name was not recorded whole: records lost), pid 100: 4 placed (1:4)" \
	"  failed:     6 pages, by error: EACCES:3 EBUSY:2 other:1; move_pages itself failed in 1 calls" \
	"migration latency: 10 migrate calls, p50 5.0 us, p90 9.0 us, p99 10.0 us, max 10.0 us" \
	"call sites: 2 named (distinct stacks of the mmap calls a policy placed); pages placed at no known site: 4"; do
	grep -qF -- "$line" "$tmp/v.txt" || fail "report (text) of the sites trace: no '$line': $(cat "$tmp/v.txt")"
done

# expect_fail WANT LABEL PATTERN CMD...: fails with one line, nothing on stdout.
expect_fail() {
	want=$1 label=$2 pat=$3
	shift 3
	"$@" >"$tmp/o" 2>"$tmp/err" </dev/null
	rc=$?
	[ $rc -eq "$want" ] || fail "$label: exit $rc, want $want"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$label: not one line: $(cat "$tmp/err")"
	grep -q -- "$pat" "$tmp/err" || fail "$label: '$(cat "$tmp/err")' lacks '$pat'"
	[ -s "$tmp/o" ] && fail "$label: wrote to stdout"
}
head -c 4096 /dev/urandom >"$tmp/garbage"
expect_fail 1 "report of garbage" "^numashadow: report: $tmp/garbage: not a numashadow trace" \
	"$NS" report "$tmp/garbage"
head -c 10 "$tmp/t.tr" >"$tmp/cut"
expect_fail 1 "report of a cut header" "^numashadow: report: $tmp/cut: " "$NS" report "$tmp/cut"
cp "$tmp/k.tr" "$tmp/bad.tr"
printf '\377\377' | dd of="$tmp/bad.tr" bs=1 seek=$((16 + 48 * 3 + 40)) conv=notrunc 2>/dev/null
expect_fail 1 "report of a corrupted record" "record 4 .*not a record type" \
	"$NS" report --format json "$tmp/bad.tr"
# Format version 1 (before call sites): refused by every reader, one line.
printf 'NSTRACE\0\1\0\0\0\60\0\0\0' >"$tmp/v1.tr"
tail -c +17 "$tmp/k.tr" >>"$tmp/v1.tr"
expect_fail 1 "report of version 1" "^numashadow: report: $tmp/v1.tr: trace format version 1; this numashadow reads 2" \
	"$NS" report --format html "$tmp/v1.tr"
expect_fail 1 "trace of version 1" "^numashadow: trace: $tmp/v1.tr: trace format version 1; this numashadow reads 2" \
	"$NS" trace --summary "$tmp/v1.tr"
mkfifo "$tmp/fifo"
expect_fail 1 "report of a FIFO" "not a regular file" "$NS" report "$tmp/fifo"
expect_fail 1 "report of no file" "^numashadow: report: $tmp/none: " "$NS" report "$tmp/none"
expect_fail 2 "report --format xml" "--format: expected text, json or html, got 'xml'" \
	"$NS" report --format xml "$tmp/t.tr"
expect_fail 2 "report --format" "--format: expected text, json or html" "$NS" report "$tmp/t.tr" --format
expect_fail 2 "report -o" "-o: expected an output file name" "$NS" report "$tmp/t.tr" -o
expect_fail 2 "report, no file" "no trace file given" "$NS" report
expect_fail 2 "report --bogus" "unknown option '--bogus'" "$NS" report --bogus "$tmp/t.tr"

# A truncated last record: one line, the same report, status 1.
cp "$tmp/k.tr" "$tmp/part.tr"
head -c 20 "$tmp/k.tr" | tail -c 4 >>"$tmp/part.tr"
"$NS" report --format json "$tmp/part.tr" >"$tmp/o" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "report of a cut record: exit $rc, want 1"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "^numashadow: report: .*truncated" "$tmp/err" ||
	fail "report of a cut record: not one line: $(cat "$tmp/err")"
sed 's/part\.tr/k.tr/' "$tmp/o" | cmp -s - "$tmp/k.json" || fail "report of a cut record: not the same report"

# -o: the text as on stdout, mode 0666 less the umask; an old file emptied.
(umask 027 && "$NS" report -o "$tmp/r.txt" "$tmp/t.tr") >"$tmp/o" 2>"$tmp/err" ||
	fail "report -o: exit $?: $(cat "$tmp/err")"
[ -s "$tmp/o" ] && fail "report -o: wrote to stdout"
cmp -s "$tmp/r.txt" "$tmp/txt" || fail "report -o: not the text report"
[ "$(stat -c %a "$tmp/r.txt")" = 640 ] || fail "report -o: mode $(stat -c %a "$tmp/r.txt"), want 640"
head -c 100000 /dev/zero >"$tmp/r.json"
"$NS" report --format=json -o "$tmp/r.json" "$tmp/t.tr" 2>"$tmp/err" || fail "report -o over a file: $(cat "$tmp/err")"
cmp -s "$tmp/r.json" "$tmp/json" || fail "report -o over a file: not the JSON report"
# Refused: OUT not a regular file, or the trace; OUT left as it was.
ln -s "$tmp/r.json" "$tmp/link"
expect_fail 1 "report -o LINK" "^numashadow: report: -o $tmp/link: not a regular file" \
	"$NS" report -o "$tmp/link" "$tmp/t.tr"
cmp -s "$tmp/r.json" "$tmp/json" || fail "report -o LINK: the link's target changed"
expect_fail 1 "report -o FIFO" "^numashadow: report: -o $tmp/fifo: not a regular file" \
	"$NS" report -o "$tmp/fifo" "$tmp/t.tr"
expect_fail 1 "report -o, a garbage trace" "not a numashadow trace" \
	"$NS" report -o "$tmp/r.json" "$tmp/garbage"
cmp -s "$tmp/r.json" "$tmp/json" || fail "report -o of a refused trace: OUT changed"

"$NS" report --help >"$tmp/o" 2>&1 || fail "report --help: exit $?"
grep -q -- "--format" "$tmp/o" || fail "report --help: no --format: $(cat "$tmp/o")"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "report: ok"
