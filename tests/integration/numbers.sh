#!/bin/sh
# numbers: every number the runtime and the command accept goes through
# one checked parser (runtime/parse.h): a value past its bound is refused
# by name, never wrapped onto another.  Settings in the environment get
# one "not accepted" line naming the variable; the control socket answers
# an error line; the command refuses its option.
. tests/int_lib.sh
LIB=$(pwd)/build/libnumashadow.so
need $LIB build/tests/progs/workload

# setting VAR VALUE: the runtime refuses it in one line naming VAR.
setting() {
	env "$1=$2" LD_PRELOAD=$LIB /bin/true 2>$tmp/err || fail "$1=$2: exit $?"
	[ "$(grep -c "^numashadow: $1=.*not accepted" $tmp/err)" -eq 1 ] ||
		fail "$1=$2 not refused: $(cat $tmp/err)"
}
setting NUMASHADOW_POLICY membind=4294967296
setting NUMASHADOW_POLICY preferred=18446744073709551617
setting NUMASHADOW_POLICY weighted-interleave=0:4294967297
setting NUMASHADOW_POLICY weighted-interleave=0:256
setting NUMASHADOW_RULES 'size>=4294967296G:interleave=all'
setting NUMASHADOW_RULES 'size<99999999999999999999:interleave=all'
setting NUMASHADOW_MIGRATE_AFTER 18446744074:0
setting NUMASHADOW_MIGRATE_AFTER 1:4294967296
setting NUMASHADOW_NEXT_TOUCH_AT 99999999999
setting NUMASHADOW_BALANCE 4294967297
setting NUMASHADOW_FAULT_AROUND 4294967297
# ... and in range, accepted quietly.
NUMASHADOW_POLICY=weighted-interleave=0:255 NUMASHADOW_RULES='size>=131072G:localalloc' \
	NUMASHADOW_NEXT_TOUCH_AT=3153600000 LD_PRELOAD=$LIB /bin/true 2>$tmp/err
[ -s $tmp/err ] && fail "values in range refused: $(cat $tmp/err)"

# The command's options.
for a in "run --migrate-after 18446744074:0" "run --next-touch-at 1e3" \
	 "migrate --pid 1 --to 4294967296" "migrate --pid 1 --to 0 --range 100000000000000000000-200000000000000000000"; do
	# shellcheck disable=SC2086 # words meant to split
	$NS $a -- /bin/true >/dev/null 2>$tmp/err && fail "'$a' accepted"
	grep -q "^numashadow: .*expected" $tmp/err || fail "'$a': no refusal line: $(cat $tmp/err)"
done

# The control socket: requests with numbers past their bounds.
if [ -x /usr/bin/python3 ]; then
	XDG_RUNTIME_DIR=$tmp/xdg; export XDG_RUNTIME_DIR
	mkdir -m 700 $XDG_RUNTIME_DIR
	$NS run --ctl -- build/tests/progs/workload 8 20 >/dev/null 2>&1 &
	pid=$!
	on_exit='kill $pid 2>/dev/null; wait $pid 2>/dev/null'
	sock=$XDG_RUNTIME_DIR/numashadow/$pid.sock
	for i in $(seq 50); do [ -S $sock ] && break; sleep 0.1; done
	for req in "migrate 4294967296 all" "migrate 2147483648 all" \
		   "migrate 0 100000000000000000000-200000000000000000001"; do
		ans=$(/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n"); print(s.recv(4096).decode().strip())' $sock "$req" 2>&1)
		case $ans in
		error:*) ;;
		*) fail "socket request '$req' answered: $ans" ;;
		esac
	done
fi
[ "$fails" -eq 0 ] && echo "numbers: ok"
finish
