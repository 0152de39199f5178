#!/bin/sh
# settings_table: the command and the runtime read one table of settings
# (runtime/settings.h).  Every variable `numashadow --help` lists is one
# the runtime reads - a value no setting accepts is refused in one line
# naming it and what it accepts - and `numashadow help run` names each
# one beside its option; the ranges the command checks are the runtime's.
. tests/int_lib.sh
LIB=$(pwd)/build/libnumashadow.so
NS=build/numashadow
need $LIB $NS

$NS --help >$tmp/help || fail "numashadow --help: exit $?"
vars=$(sed -n '/^Environment (read by the runtime):/,/^for vm:/p' $tmp/help |
	grep -o 'NUMASHADOW_[A-Z_]*')
[ "$(echo "$vars" | wc -l)" -ge 12 ] || fail "the environment list is short: $vars"
$NS help run >$tmp/run || fail "numashadow help run: exit $?"
bad=/nonexistent-dir/x
for v in $vars; do
	env "$v=$bad" LD_PRELOAD=$LIB /bin/true 2>$tmp/err || fail "$v=$bad: exit $?"
	[ "$(grep -c "^numashadow: $v=$bad: not accepted (accepted: .*)" $tmp/err)" -eq 1 ] ||
		fail "$v is listed but the runtime does not refuse a bad value: $(cat $tmp/err)"
	grep -q "$v[^A-Z_]" $tmp/run || fail "'numashadow help run' does not name $v"
done

# The command's ranges are the runtime's: the bounds pass both, one past
# each fails both (the command's error names what the runtime accepts).
for case in "--fault-around=512 NUMASHADOW_FAULT_AROUND=512 0" \
	    "--fault-around=513 NUMASHADOW_FAULT_AROUND=513 1" \
	    "--balance=100000 NUMASHADOW_BALANCE=100000 0" \
	    "--balance=100001 NUMASHADOW_BALANCE=100001 1" \
	    "--balance=0 NUMASHADOW_BALANCE=0 1"; do
	set -- $case
	$NS run "$1" -- /bin/true 2>$tmp/cerr
	crc=$?
	env "$2" LD_PRELOAD=$LIB /bin/true 2>$tmp/rerr
	refused=$(grep -c "not accepted" $tmp/rerr)
	if [ "$3" = 0 ]; then
		[ $crc -eq 0 ] || fail "run $1: exit $crc: $(cat $tmp/cerr)"
		[ "$refused" -eq 0 ] || fail "$2 refused: $(cat $tmp/rerr)"
	else
		[ $crc -ne 0 ] || fail "run $1 accepted"
		[ "$refused" -eq 1 ] || fail "$2 not refused"
		accepted=$(sed -n 's/.*(accepted: \(.*\)).*/\1/p' $tmp/rerr)
		grep -qF "$accepted" $tmp/cerr ||
			fail "run $1 does not say what the runtime accepts ($accepted): $(cat $tmp/cerr)"
	fi
done
echo "PASS: $(echo $vars | wc -w) settings, one table"
