#!/bin/sh
# stat_all: `numashadow stat --all` lists the running processes started
# with --ctl and no dead one.  Two workloads and a forked python3 family
# run; one workload is killed with SIGKILL, which leaves its socket file
# behind (checked: else this proves nothing).  The text has a header (pid,
# command, node0 ... total) and a line for each live process with its
# pid and command name, the workload's with pages on node 0 that are its
# total, and none for the killed one; --all --json says the same as JSON
# Lines (the workload's command and pages the sum of its nodes', the
# killed one absent).  Needs python3.  Run from the project root.
. tests/stat_lib.sh
ctl_workload 8 30
pid=$ctl_pid
ctl_workload 4 30
dead=$ctl_pid
ctl_family

kill -KILL $dead
wait $dead 2>/dev/null
[ -S "$dir/$dead.sock" ] || fail "SIGKILL left no socket of $dead in $dir: the next check proves nothing"
$NS stat --all >"$tmp/all" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "stat --all: exit $rc: $(cat "$tmp/err")"
head -n 1 "$tmp/all" | grep -Eq '^ *pid +command +node0 .*total$' || fail "stat --all: header $(head -n 1 "$tmp/all")"
for p in $pid $fam $child; do
	grep -Eq "^ *$p +(workload|python3) +[0-9]" "$tmp/all" || fail "stat --all: no line for $p: $(cat "$tmp/all")"
done
grep -Eq "^ *$dead " "$tmp/all" && fail "stat --all lists the killed $dead"
awk -v p=$pid '$1 == p { exit !($2 == "workload" && $3 > 0 && $3 == $NF) }' "$tmp/all" ||
	fail "stat --all: line of $pid: $(grep -E "^ *$pid " "$tmp/all")"

# The same as JSON Lines.
$NS stat --all --json >"$tmp/allj" 2>"$tmp/err" || fail "stat --all --json: $(cat "$tmp/err")"
python3 - $pid $dead "$tmp/allj" >"$tmp/why" 2>&1 <<'PY' || fail "stat --all --json: $(cat "$tmp/why")"
import json, sys
pid, dead = int(sys.argv[1]), int(sys.argv[2])
al = {x["pid"]: x for x in (json.loads(l) for l in open(sys.argv[3]))}
assert pid in al and dead not in al, al.keys()
assert al[pid]["command"] == "workload" and al[pid]["pages"] == sum(al[pid]["nodes"].values()) > 0, al[pid]
PY

[ "$fails" -eq 0 ] && echo "stat_all: ok"
finish
