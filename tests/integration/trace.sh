#!/bin/sh
# trace: `numashadow run --trace FILE` and `numashadow trace`.  A file left
# from before is emptied, not appended to.  build/tests/progs/trace_prog
# says what it mapped, unmapped, protected and moved, and its child's pid;
# the CSV holds each of those as a record of the right type, pid, address
# and length, the mremap as MREMAP then MREMAP_TO to the new address, the
# parent's FORK naming the child, the child's START naming the parent, an
# EXIT of each, and the 64-page region's FAULT records, under
# --localalloc on this one-node host, add up to exactly the pages the
# kernel's pagemap showed present, all on node 0.  The file itself (read
# with od, not with numashadow) has one record per CSV row, in the same
# order, and each pid's seq numbers increase.  --summary has a row per
# process with the right parent and no lost records, and one lost when a
# record is cut out of the file; --svg writes an SVG
# document; the text output has a line per record.  A file that is not a
# trace gives exit 1 and one line; a truncated last record one line, the
# other records and exit 1; `run --trace` with a file it cannot create
# fails with one line before running anything.  Run from the project root.
. tests/int_lib.sh
PROG=$(pwd)/build/tests/progs/trace_prog
need "$PROG"

# A relative FILE, and an old file in its place: run must empty it.
echo "an old trace" >"$tmp/t.tr"
(cd "$tmp" && "$NS" run --trace t.tr --localalloc -- "$PROG") >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: run --trace: exit $rc: $(cat "$tmp/err")"; exit 1; }
"$NS" trace --csv "$tmp/t.tr" >"$tmp/csv" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: trace --csv: exit $rc: $(cat "$tmp/err")"; exit 1; }
[ "$(head -n 1 "$tmp/csv")" = "time_ns,pid,tid,type,addr,len,node,aux" ] ||
	fail "trace --csv: header '$(head -n 1 "$tmp/csv")'"
[ -s "$tmp/err" ] && fail "trace --csv: said '$(cat "$tmp/err")'"
parent=$(awk '$1 == "present" { print $2 }' "$tmp/out")
child=$(awk '$1 == "child" { print $2 }' "$tmp/out")
[ -n "$parent" ] && [ -n "$child" ] || { echo "FAIL: trace_prog said: $(cat "$tmp/out")"; exit 1; }

# has TYPE PID ADDR LEN: a record with those fields.
has() {
	awk -F, -v t="$1" -v p="$2" -v a="$3" -v l="$4" '
		$4 == t && $2 == p && $5 == a && $6 == l { found = 1 }
		END { exit !found }' "$tmp/csv"
}
calls=0
while read -r what pid a b c; do
	case $what in
	mmap|munmap|mprotect)
		calls=$((calls + 1))
		has "$what" "$pid" "$a" "$b" || fail "no $what record of pid $pid at $a, $b bytes" ;;
	mremap)
		calls=$((calls + 1))
		# This pid's records from the MREMAP on: MREMAP_TO comes next.
		got=$(awk -F, -v p="$pid" -v a="$a" -v l="$c" '
			$2 != p { next }
			n == 1 { print $4, $5, $6; exit }
			$4 == "mremap" && $5 == a && $6 == l { n = 1 }' "$tmp/csv")
		[ "$got" = "mremap_to $b $c" ] ||
			fail "mremap of $a to $b ($c bytes): after the MREMAP record: '$got'" ;;
	esac
done <"$tmp/out"
[ $calls -ge 9 ] || fail "trace_prog reported $calls calls, want 9: $(cat "$tmp/out")"

awk -F, -v p="$parent" -v c="$child" '$2 == p && $4 == "fork" && $8 == c { f = 1 }
	END { exit !f }' "$tmp/csv" || fail "no FORK record of $parent naming child $child"
awk -F, -v p="$parent" -v c="$child" '$2 == c && $4 == "start" && $8 == p { f = 1 }
	END { exit !f }' "$tmp/csv" || fail "no START record of $child naming parent $parent"
for p in "$parent" "$child"; do
	[ "$(awk -F, -v p="$p" '$2 == p && $4 == "exit"' "$tmp/csv" | wc -l)" -eq 1 ] ||
		fail "pid $p: not one EXIT record"
	awk -F, -v p="$p" '$2 == p { last = $4 } END { exit last != "exit" }' "$tmp/csv" ||
		fail "pid $p: EXIT is not its last record"
done

# The kernel as oracle: faults inside the region (clipped to it) add up
# to the pages pagemap showed present, each on node 0.
set -- $(awk '$1 == "present" { print $3, $4 }' "$tmp/out")
region=$1 present=$2
[ "$present" -eq 64 ] || fail "pagemap: $present of the 64 written pages present"
sum=$(awk -F, -v p="$parent" -v r="$region" '
	function hex(s,   i, v) {
		v = 0
		for (i = 3; i <= length(s); i++)
			v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return v
	}
	BEGIN { lo = hex(r); hi = lo + 64 * 4096 }
	$2 == p && $4 == "fault" {
		s = hex($5); e = s + $6
		if (s < lo) s = lo
		if (e > hi) e = hi
		if (e <= s) next
		n += (e - s) / 4096
		if ($7 != 0) bad++
	}
	END { print n + 0, bad + 0 }' "$tmp/csv")
[ "$sum" = "$present 0" ] ||
	fail "FAULT records in the region: pages and off-node records '$sum', pagemap $present present"

# The file itself: 16-byte header, 48-byte records (seq at 0, pid at 32).
od -An -v -t u4 -w48 -j16 "$tmp/t.tr" >"$tmp/od"
tail -n +2 "$tmp/csv" | cut -d, -f2 >"$tmp/csv.pids"
awk '{ print $9 }' "$tmp/od" >"$tmp/od.pids"
cmp -s "$tmp/csv.pids" "$tmp/od.pids" ||
	fail "CSV rows ($(wc -l <"$tmp/csv.pids")) are not the file's records ($(wc -l <"$tmp/od.pids")) in order"
bad=$(awk '{ seq = $2 * 4294967296 + $1
	     if (($9 in last) && seq <= last[$9]) print "pid " $9 ": seq " seq " after " last[$9]
	     last[$9] = seq }' "$tmp/od")
[ -z "$bad" ] || fail "seq numbers do not increase: $bad"

# --summary: one row per process, the child's parent, nothing lost.
"$NS" trace --summary "$tmp/t.tr" >"$tmp/sum" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "trace --summary: exit $rc: $(cat "$tmp/err")"
head -n 1 "$tmp/sum" | grep -q '^pid  *parent  *records' || fail "trace --summary: header: $(head -n 1 "$tmp/sum")"
awk -v c="$child" -v p="$parent" '$1 == c && $2 == p { f = 1 } END { exit !f }' "$tmp/sum" ||
	fail "trace --summary: no row of $child with parent $parent: $(cat "$tmp/sum")"
awk -v p="$parent" '$1 == p && $6 ~ /^0:/ { f = 1 } END { exit !f }' "$tmp/sum" ||
	fail "trace --summary: no pages placed on node 0 for $parent: $(cat "$tmp/sum")"
awk '$1 == "family" && $NF == 0 { f = 1 } END { exit !f }' "$tmp/sum" ||
	fail "trace --summary: no family line with 0 lost: $(cat "$tmp/sum")"

# A record cut out of the middle of the parent's run: one lost.
i=$(awk -v p="$parent" '$9 == p { if (++n == 3) { print NR - 1; exit } }' "$tmp/od")
head -c $((16 + i * 48)) "$tmp/t.tr" >"$tmp/gap.tr"
tail -c +$((16 + (i + 1) * 48 + 1)) "$tmp/t.tr" >>"$tmp/gap.tr"
lost=$("$NS" trace --summary "$tmp/gap.tr" | awk -v p="$parent" '$1 == p { print $NF }')
[ "$lost" = 1 ] || fail "trace --summary: a record of $parent missing, lost '$lost', want 1"

# --svg: a document.
"$NS" trace --svg "$tmp/t.svg" "$tmp/t.tr" >"$tmp/o" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "trace --svg: exit $rc: $(cat "$tmp/err")"
head -c 4 "$tmp/t.svg" | grep -q '^<svg' || fail "trace --svg: does not start with <svg"
[ "$(tail -n 1 "$tmp/t.svg")" = "</svg>" ] || fail "trace --svg: does not end with </svg>"
[ "$(grep -c '<svg' "$tmp/t.svg")" -eq 1 ] || fail "trace --svg: not one <svg> element"
grep -q 'placed on node 0' "$tmp/t.svg" || fail "trace --svg: no line for node 0 placements"

# The text: a line per record, the fork naming the child.
"$NS" trace "$tmp/t.tr" >"$tmp/txt" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "trace: exit $rc: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/txt")" -eq "$(wc -l <"$tmp/od")" ] || fail "trace: not a line per record"
grep -q "^[0-9]*\.[0-9]\{6\}  pid $parent tid [0-9]*  fork child $child$" "$tmp/txt" ||
	fail "trace: no fork line for child $child"

printf 'NSTRACX\0\1\0\0\0\60\0\0\0' >"$tmp/bad"
expect_fail 1 "trace of a non-trace" "^numashadow: trace: $tmp/bad: " "$NS" trace "$tmp/bad"
expect_fail 1 "trace of no file" "^numashadow: trace: $tmp/none: " "$NS" trace --csv "$tmp/none"
printf 'NSTRACE\0\1\0\0\0\60\0\0\0' >"$tmp/v1"
expect_fail 1 "trace of version 1" "version 1; this numashadow reads 2" "$NS" trace "$tmp/v1"
printf 'NSTRACE\0\3\0\0\0\60\0\0\0' >"$tmp/v3"
expect_fail 1 "trace of version 3" "version 3; this numashadow reads 2" "$NS" trace "$tmp/v3"
expect_fail 2 "trace, two outputs" "exclude" "$NS" trace --csv --summary "$tmp/t.tr"

# A truncated last record: one line, the whole ones still shown, exit 1.
cp "$tmp/t.tr" "$tmp/cut.tr"
head -c 20 "$tmp/t.tr" | tail -c 4 >>"$tmp/cut.tr"
"$NS" trace --csv "$tmp/cut.tr" >"$tmp/o" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "trace of a cut file: exit $rc, want 1"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q truncated "$tmp/err" ||
	fail "trace of a cut file: not one line: $(cat "$tmp/err")"
cmp -s "$tmp/o" "$tmp/csv" || fail "trace of a cut file: the whole records differ"

# A trace file that cannot be made: nothing runs.
expect_fail nonzero "run --trace /proc/nope/x" "/proc/nope/x" \
	"$NS" run --trace /proc/nope/x -- sh -c "touch $tmp/ran"
[ -e "$tmp/ran" ] && fail "run --trace /proc/nope/x: the program ran"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "trace: ok"
