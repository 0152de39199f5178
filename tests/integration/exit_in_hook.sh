#!/bin/sh
# exit_in_hook: a child that ends by _exit while another of its threads is
# inside a hook (holding the family lock) leaves no dead holder: the
# runtime never says "a process died holding the family lock".  _exit is
# the program's own end: the runtime lets the hook finish first and keeps
# the child's other threads out of the lock until the kernel ends them.
# A kill in the middle still says it (lock_death.sh).
. tests/int_lib.sh
PROG=build/tests/progs/exit_in_hook
need $PROG
timeout -s KILL 120 $NS run --verify -- $PROG 40 >$tmp/out 2>$tmp/err; rc=$?
[ $rc -eq 0 ] || fail "exit $rc: $(tail -5 $tmp/err)"
[ "$(cat $tmp/out)" = "exit_in_hook: 40 children ended by _exit" ] || fail "stdout: $(cat $tmp/out)"
grep -q "died holding the family lock" $tmp/err && fail "a child's _exit left the lock to a dead holder"
grep -v "died holding the family lock" $tmp/err | grep -q . && fail "other lines: $(head -5 $tmp/err)"
[ "$fails" -eq 0 ] && echo "exit_in_hook: ok"
finish
