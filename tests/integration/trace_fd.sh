#!/bin/sh
# trace_fd: a program that closes every descriptor, the trace file's among
# them, and opens a file of its own at the same numbers must find only its
# own line in that file: the runtime knows its descriptors by the files'
# inodes, stops tracing with one line on stderr (which must not land in
# the program's file either), and the program runs on; with placement on
# as well (the monitor's descriptors, its stop eventfd among them).
. tests/int_lib.sh
PROG=build/tests/progs/close_fds
need $PROG

# With placement too, the userfaultfd monitor's descriptors go the same way.
for opt in "" --localalloc; do
	$NS run --trace $tmp/t.tr $opt -- $PROG $tmp/mine >$tmp/out 2>$tmp/err; rc=$?
	[ $rc -eq 0 ] || fail "${opt:-trace only}: exit $rc: $(cat $tmp/err)"
	[ "$(cat $tmp/out)" = "close_fds: done" ] || fail "${opt:-trace only}: stdout: $(cat $tmp/out)"
	[ "$(cat $tmp/mine)" = "mine" ] || fail "${opt:-trace only}: the program's file holds more than its line: $(od -c $tmp/mine | head -3)"
	[ "$(grep -c "^numashadow: trace: pid [0-9]*: the program closed the trace file's descriptor; tracing stops$" $tmp/err)" -eq 1 ] ||
		fail "${opt:-trace only}: want one line saying tracing stopped: $(cat $tmp/err)"
	# And nothing else: the service loop goes on through its registered ring,
	# though its descriptors were closed too.
	[ "$(grep -vc "tracing stops$" $tmp/err)" -eq 0 ] || fail "${opt:-trace only}: other lines on stderr: $(cat $tmp/err)"
	# The trace holds whole records only (what was written before the close).
	size=$(stat -c %s $tmp/t.tr)
	[ "$size" -ge 16 ] && [ $(( (size - 16) % 48 )) -eq 0 ] || fail "${opt:-trace only}: trace: $size bytes"
	$NS trace $tmp/t.tr >/dev/null 2>$tmp/terr || fail "${opt:-trace only}: the trace does not read: $(cat $tmp/terr)"
done

[ "$fails" -eq 0 ] && echo "trace_fd: ok"
finish
