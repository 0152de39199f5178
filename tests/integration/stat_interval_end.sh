#!/bin/sh
# stat_interval_end: `numashadow stat --pid P --interval S` without --count
# goes on until stopped, and stopping is not an error.  SIGINT after 1 s
# ends it with status 0 and its lines printed (3 at least at 0.2 s); the
# process's end (a workload of 2 s) ends it with status 0, its lines and
# one line on stderr saying the pid has ended.  The two run side by side.
# Run from the project root.
. tests/stat_lib.sh
ctl_workload 8 30
pid=$ctl_pid
ctl_workload 4 2
short=$ctl_pid

# Until the process ends, in the background while SIGINT is tried.
$NS stat --pid $short --interval 0.2 >"$tmp/end" 2>"$tmp/end.err" &
ender=$!

# Without --count, until SIGINT, which ends it with status 0.
$NS stat --pid $pid --interval 0.2 >"$tmp/iv" 2>"$tmp/err" &
st=$!
sleep 1
kill -INT $st
wait $st
rc=$?
[ $rc -eq 0 ] || fail "stat --interval: exit $rc after SIGINT: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/iv")" -ge 3 ] || fail "stat --interval for 1 s: $(cat "$tmp/iv")"

# Until the process ends: status 0 and one line saying so.
wait $ender
rc=$?
wait $short
[ $rc -eq 0 ] || fail "stat --interval of a process that ends: exit $rc: $(cat "$tmp/end.err")"
[ "$(cat "$tmp/end.err")" = "numashadow: stat: pid $short has ended" ] ||
	fail "stat --interval of a process that ends: said $(cat "$tmp/end.err")"
[ "$(wc -l <"$tmp/end")" -ge 3 ] || fail "stat --interval of a process that ends: $(cat "$tmp/end")"

[ "$fails" -eq 0 ] && echo "stat_interval_end: ok"
finish
