#!/bin/sh
# verify_cannot_look: a check verify could not make is not a pass.  With
# more /proc/self/maps text than verify reads at once, verify says it
# could not look and the process ends with verify's status (86), where it
# used to say nothing and exit 0.
. tests/int_lib.sh
PROG=build/tests/progs/long_maps
need $PROG
mkdir $tmp/deep
timeout -s KILL 120 $NS run --verify -- $PROG $tmp/deep >$tmp/out 2>$tmp/err; rc=$?
[ $rc -eq 86 ] || fail "exit $rc, want 86: $(head -3 $tmp/err)"
grep -q "^numashadow: verify: pid [0-9]*: .*could not look: reading its maps failed (-7: too many mappings or too much text)" $tmp/err ||
	fail "no 'could not look' line: $(head -3 $tmp/err)"
# Without verify the program runs as it does alone.
mkdir $tmp/deep2 $tmp/deep3
$PROG $tmp/deep3 >$tmp/plain
timeout -s KILL 120 $NS run -- $PROG $tmp/deep2 >$tmp/out2 2>$tmp/err2 || fail "without verify: exit $?"
cmp -s $tmp/plain $tmp/out2 || fail "without verify: $(cat $tmp/out2), plainly $(cat $tmp/plain)"
[ -s $tmp/err2 ] && fail "without verify, lines on stderr: $(head -3 $tmp/err2)"
[ "$fails" -eq 0 ] && echo "verify_cannot_look: ok"
finish
