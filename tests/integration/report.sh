#!/bin/sh
# report: `numashadow report FILE [--format text|json] [-o OUT]`.  A run of
# build/tests/progs/trace_prog under --interleave=all: the text's pages
# placed per node are the family row of `trace --summary`, the JSON parses
# and holds the same numbers, the 64-page region is the top mapping.  A
# trace made here by hand (python3) with known faults, moves, a LOST
# record and a gap in record numbers: every number as worked out, the
# ping-pong page found.  Garbage, a file cut inside its header, a corrupted
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
for line in "run time: " "migration latency: not recorded" "lost records: 0 " \
	"call sites: not recorded" "top mappings by pages placed:" \
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
      j["records"], j["processes"], j["lost"]["total"], j["latency_ns"], j["call_sites"],
      j["mappings"]["top_placed"][0]["addr"])' <"$tmp/json")
tot=$(sed -n 's/^pages placed: .* (total \([0-9]*\);.*/\1/p' "$tmp/txt")
recs=$(awk '$1 == "family" { print $3 }' "$tmp/sum")
[ "$got" = "$want $tot $recs 2 0 None None $region" ] ||
	fail "report --format json: '$got', want '$want $tot $recs 2 0 None None $region'"

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
    f.write(b"NSTRACE\0" + struct.pack("<II", 1, 48))
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
mkfifo "$tmp/fifo"
expect_fail 1 "report of a FIFO" "not a regular file" "$NS" report "$tmp/fifo"
expect_fail 1 "report of no file" "^numashadow: report: $tmp/none: " "$NS" report "$tmp/none"
expect_fail 2 "report --format xml" "--format: expected text, json or html, got 'xml'" \
	"$NS" report --format xml "$tmp/t.tr"
expect_fail 2 "report --format" "--format: expected text, json or html" "$NS" report "$tmp/t.tr" --format
expect_fail 2 "report -o" "-o: expected an output file name" "$NS" report "$tmp/t.tr" -o
expect_fail 2 "report, no file" "no trace file given" "$NS" report
expect_fail 2 "report --bogus" "unknown option '--bogus'" "$NS" report --bogus "$tmp/t.tr"

# A truncated last record: one warning, the same report.
cp "$tmp/k.tr" "$tmp/part.tr"
head -c 20 "$tmp/k.tr" | tail -c 4 >>"$tmp/part.tr"
"$NS" report --format json "$tmp/part.tr" >"$tmp/o" 2>"$tmp/err" || fail "report of a cut record: exit $?"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "^numashadow: report: .*truncated" "$tmp/err" ||
	fail "report of a cut record: not one warning: $(cat "$tmp/err")"
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
