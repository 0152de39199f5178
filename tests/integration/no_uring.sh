#!/bin/sh
# no_uring: where io_uring is refused (a seccomp filter, as in containers),
# nothing changes - the runtime's service loop runs on poll(2) and never
# needs it: the program's output is what it is without numashadow, nothing
# is said, the control socket answers `numashadow stat`, and the trace is
# written.
. tests/int_lib.sh
WRAP=build/tests/progs/no_uring
need $WRAP build/tests/progs/chatty build/tests/progs/workload

# Output unchanged, nothing said.
build/tests/progs/chatty >$tmp/plain.out 2>/dev/null
$WRAP $NS run --ctl -- build/tests/progs/chatty >$tmp/ns.out 2>$tmp/ns.err; rc=$?
[ $rc -eq 0 ] || fail "chatty under the filter: exit $rc: $(cat $tmp/ns.err)"
cmp -s $tmp/plain.out $tmp/ns.out || fail "chatty's output differs under numashadow without io_uring"
grep -q "chatty: runtime active" $tmp/ns.err || fail "the runtime was not active: $(cat $tmp/ns.err)"
grep -v "^chatty:" $tmp/ns.err | grep -q . && fail "diagnostics: $(cat $tmp/ns.err)"

# The control socket, served by poll(2).
NUMASHADOW_TRACE=$tmp/trace $WRAP $NS run --ctl -- build/tests/progs/workload 8 20 >/dev/null 2>$tmp/wl.err &
pid=$!
on_exit='kill $pid 2>/dev/null; wait $pid 2>/dev/null'
for i in $(seq 50); do
	out=$($NS stat --pid $pid 2>&1) && break
	sleep 0.1
done
out=$($NS stat --pid $pid 2>&1) || fail "stat without io_uring: $out"
echo "$out" | grep -q "^pid $pid$" || fail "stat: no 'pid $pid' line: $out"
echo "$out" | grep -Eq "^node 0: [1-9][0-9]* pages$" || fail "stat: no pages on node 0: $out"
out=$($NS migrate --pid $pid --to 0 --sync 2>&1) || fail "migrate without io_uring: $out"
echo "$out" | grep -q "^moved 0 pages to node 0$" || fail "migrate: $out"
kill $pid; wait $pid 2>/dev/null

# The trace, written by plain writes: a header and whole records, the
# migration among them.  (Its contents are checked in trace.sh.)
size=$(stat -c %s $tmp/trace 2>/dev/null || echo 0)
[ "$size" -gt 16 ] && [ $(( (size - 16) % 48 )) -eq 0 ] ||
	fail "trace without io_uring: $size bytes, want a header and whole records"
head -c 7 $tmp/trace | grep -q NSTRACE || fail "trace: no header"

[ "$fails" -eq 0 ] && echo "no_uring: ok"
finish
