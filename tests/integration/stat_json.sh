#!/bin/sh
# stat_json: `numashadow stat --pid P --json`, what scripts read.  For
# build/tests/progs/workload run with --ctl it is one line of valid JSON,
# nothing on stderr, whose numbers agree with the text answer (pid, pages
# per node and their total, every migration counter, each mapping's
# range, perms, kind and pages per node, the shared pages); so it is
# again after `migrate --to 0 --sync`, whose calls and pages already
# there the counters now show.  Needs python3.  Run from the project root.
. tests/stat_lib.sh
ctl_workload 8 30
pid=$ctl_pid

check_json $pid
$NS migrate --pid $pid --to 0 --sync >/dev/null 2>&1 || fail "migrate --to 0"
check_json $pid
python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not (d["migrations"]["calls"] > 0 and d["migrations"]["already"] > 0))' \
	<"$tmp/json" || fail "stat --json after migrate: counters $(cat "$tmp/json")"

[ "$fails" -eq 0 ] && echo "stat_json: ok"
finish
