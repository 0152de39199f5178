#!/bin/sh
# trace_fd: a program that closes every descriptor, the trace file's among
# them, and opens a file of its own at the same numbers must find only its
# own line in that file: the runtime knows its descriptors by the files'
# inodes, opens the trace file again by its path, quietly, and the records
# that follow (the exit's) still arrive; with placement on as well (the
# monitor's descriptors, its stop eventfd among them).
. tests/int_lib.sh
PROG=build/tests/progs/close_fds
need $PROG

# With placement too, the userfaultfd monitor's descriptors go the same way.
for opt in "" --localalloc; do
	$NS run --trace $tmp/t.tr $opt -- $PROG $tmp/mine >$tmp/out 2>$tmp/err; rc=$?
	[ $rc -eq 0 ] || fail "${opt:-trace only}: exit $rc: $(cat $tmp/err)"
	[ "$(cat $tmp/out)" = "close_fds: done" ] || fail "${opt:-trace only}: stdout: $(cat $tmp/out)"
	[ "$(cat $tmp/mine)" = "mine" ] || fail "${opt:-trace only}: the program's file holds more than its line: $(od -c $tmp/mine | head -3)"
	# Nothing said: the service loop goes on through its registered ring,
	# though its descriptors were closed too.
	[ -s $tmp/err ] && fail "${opt:-trace only}: lines on stderr: $(cat $tmp/err)"
	# The trace holds whole records only, the exit's among them.
	size=$(stat -c %s $tmp/t.tr)
	[ "$size" -ge 16 ] && [ $(( (size - 16) % 48 )) -eq 0 ] || fail "${opt:-trace only}: trace: $size bytes"
	$NS trace $tmp/t.tr >$tmp/text 2>$tmp/terr || fail "${opt:-trace only}: the trace does not read: $(cat $tmp/terr)"
	grep -q " exit" $tmp/text || fail "${opt:-trace only}: no exit record after the close: $(tail -3 $tmp/text)"
done

[ "$fails" -eq 0 ] && echo "trace_fd: ok"
finish
