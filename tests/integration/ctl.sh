#!/bin/sh
# ctl: `numashadow stat --pid` and `numashadow migrate --pid` against a
# running program (build/tests/progs/workload under `numashadow run`), and
# every error case: no such process, a process has no control socket, a
# node that is not online, a malformed or empty range, a missing --pid or
# --to.  On this one-node host the migration moves nothing (every page is
# already on node 0) but must say so and succeed; tests/vm/ctl_migrate.sh
# moves pages for real.
. tests/int_lib.sh
PROG=build/tests/progs/workload
need $PROG

# up PID: waits (5 s at most) for PID's socket, which appears once the
# runtime is up.
up() {
	for i in $(seq 50); do
		$NS stat --pid "$1" >/dev/null 2>&1 && return
		sleep 0.1
	done
}

$NS run --ctl -- $PROG 8 20 >/dev/null 2>&1 &
pid=$!
on_exit='kill $pid 2>/dev/null; wait $pid 2>/dev/null'
up $pid

out=$($NS stat --pid $pid 2>&1); rc=$?
[ $rc -eq 0 ] || fail "stat: exit $rc: $out"
echo "$out" | grep -q "^pid $pid$" || fail "stat: no 'pid $pid' line: $out"
echo "$out" | grep -Eq "^node 0: [1-9][0-9]* pages$" || fail "stat: no pages on node 0: $out"
echo "$out" | grep -q "anon node0=" || fail "stat: no per-mapping line: $out"
echo "$out" | grep -q "^migrations: calls 0 " || fail "stat: counters: $out"
# No placement policy: no first touch was the runtime's to fill.
echo "$out" | grep -q "^placement: faults 0 pages 0$" || fail "stat: placement: $out"

out=$($NS migrate --pid $pid --to 0 --sync 2>&1); rc=$?
[ $rc -eq 0 ] || fail "migrate --to 0: exit $rc: $out"
echo "$out" | grep -q "^moved 0 pages to node 0$" || fail "migrate --to 0: $out"
out=$($NS stat --pid $pid 2>&1)
echo "$out" | grep -Eq "^migrations: calls [1-9].* already [1-9]" ||
	fail "stat after migrate: the pages already on node 0 not counted: $out"

# With a policy the placement fills the program's first touches: some
# pages are counted placed.  The socket is up before the workload's first
# touch of its buffer may have come: asked again for up to 10 s.
$NS run --ctl --interleave=all -- $PROG 8 20 >/dev/null 2>&1 &
ppid=$!
on_exit='kill $pid $ppid 2>/dev/null; wait $pid $ppid 2>/dev/null'
up $ppid
for try in $(seq 100); do
	pout=$($NS stat --pid $ppid 2>&1)
	placed=$(echo "$pout" | sed -n 's/^placement: faults [0-9]* pages \([0-9]*\)$/\1/p')
	[ -n "$placed" ] && [ "$placed" -gt 0 ] && break
	sleep 0.1
done
[ -n "$placed" ] && [ "$placed" -gt 0 ] ||
	fail "stat under --interleave=all: no pages placed: $pout"
kill $ppid 2>/dev/null
wait $ppid 2>/dev/null
on_exit='kill $pid 2>/dev/null; wait $pid 2>/dev/null'

expect() {	# expect STATUS PATTERN -- ARGS...: a refused request
	want=$1 pat=$2
	shift 3
	out=$($NS "$@" 2>&1); rc=$?
	[ $rc -eq $want ] || fail "$*: exit $rc, want $want: $out"
	echo "$out" | grep -q "$pat" || fail "$*: message '$out' lacks '$pat'"
	[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "$*: more than one line: $out"
}
expect 1 "not online" -- migrate --pid $pid --to 5
expect 1 "nothing is mapped" -- migrate --pid $pid --to 0 --range 1000-2000
expect 2 "range" -- migrate --pid $pid --to 0 --range zz
expect 2 "range" -- migrate --pid $pid --to 0 --range 2000-1000
expect 2 "exclude each other" -- migrate --pid $pid --to 0 --all --range 1000-2000
expect 2 "\-\-to is required" -- migrate --pid $pid
expect 2 "\-\-pid is required" -- migrate --to 0
expect 2 "process id" -- stat --pid nope
expect 1 "no process 4000000" -- stat --pid 4000000
expect 1 "has no control socket" -- stat --pid 1
expect 1 "has no control socket" -- migrate --pid 1 --to 0

[ "$fails" -eq 0 ] && echo "ctl: ok"
finish
