#!/bin/sh
# lock_death: children SIGKILLed in their mmap/munmap loops, some holding
# the family lock, never wedge the family, and the runtime says "a process
# died holding the family lock" once per family at most (it was said at
# every takeover).
. tests/int_lib.sh
PROG=build/tests/progs/lock_killer
need $PROG
timeout -s KILL 120 $NS run --verify -- $PROG 40 >$tmp/out 2>$tmp/err; rc=$?
[ $rc -eq 0 ] || fail "exit $rc: $(tail -5 $tmp/err)"
[ "$(cat $tmp/out)" = "lock_killer: 40 children killed" ] || fail "stdout: $(cat $tmp/out)"
n=$(grep -c "died holding the family lock" $tmp/err)
[ "$n" -le 1 ] || fail "said $n times"
grep -v "died holding the family lock" $tmp/err | grep -q . && fail "other lines: $(head -5 $tmp/err)"
echo "lock_death: said $n time(s)"
[ "$fails" -eq 0 ] && echo "lock_death: ok"
finish
