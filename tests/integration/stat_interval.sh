#!/bin/sh
# stat_interval: `numashadow stat --pid P --interval S --count N` prints a
# header (time, a column per node, total, pages/s, moved/s) and N lines,
# status 0: in each the total is the sum of the node columns and node 0
# has pages, the first has no rates ("-"), the later ones a number moved
# per second, and the times are S apart (0.2 s: from 0.15 to 1.5 s).
# With --json it is N JSON Lines of the same: the pid, no rates in the
# first, a later time and a moved rate in the second, pages the sum of
# the nodes' and above 0.
# Needs python3.  Run from the project root.
. tests/stat_lib.sh
ctl_workload 8 30
pid=$ctl_pid

$NS stat --pid $pid --interval 0.2 --count 3 >"$tmp/iv" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "stat --interval --count 3: exit $rc: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/iv")" -eq 4 ] || fail "stat --interval --count 3: $(cat "$tmp/iv")"
head -n 1 "$tmp/iv" | grep -Eq '^ *time +node0 +total +pages/s +moved/s$' ||
	fail "stat --interval: header '$(head -n 1 "$tmp/iv")'"
awk 'NR == 2 && ($4 != "-" || $5 != "-") { exit 1 }
     NR > 1 { s = 0; for (i = 2; i < NF - 2; i++) s += $i; if (s != $(NF - 2) || $2 < 1) exit 1 }
     NR > 2 && $NF !~ /^[0-9.]+$/ { exit 1 }' "$tmp/iv" ||
	fail "stat --interval: lines $(cat "$tmp/iv")"
awk 'NR > 1 { print $1 }' "$tmp/iv" | awk 'NR > 1 && ($1 - last < 0.15 || $1 - last > 1.5) { exit 1 } { last = $1 }' ||
	fail "stat --interval 0.2: times $(cat "$tmp/iv")"

# The same as JSON Lines.
$NS stat --pid $pid --interval 0.2 --count 2 --json >"$tmp/ivj" 2>"$tmp/err" ||
	fail "stat --interval --json: $(cat "$tmp/err")"
python3 - $pid "$tmp/ivj" >"$tmp/why" 2>&1 <<'PY' || fail "stat --interval --json: $(cat "$tmp/why")"
import json, sys
pid = int(sys.argv[1])
iv = [json.loads(l) for l in open(sys.argv[2])]
assert len(iv) == 2, iv
assert iv[0]["pid"] == pid and iv[0]["pages_per_s"] is None and iv[0]["moved_per_s"] is None, iv
assert iv[1]["time"] > iv[0]["time"] and iv[1]["moved_per_s"] is not None, iv
for x in iv:
    assert x["pages"] == sum(x["nodes"].values()) > 0, x
PY

[ "$fails" -eq 0 ] && echo "stat_interval: ok"
finish
