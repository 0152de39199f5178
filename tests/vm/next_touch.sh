#!/bin/sh
# next_touch: in a 2-node guest, numashadow_next_touch() and
# `numashadow run --next-touch-at` move written pages to the writer's node
# and leave read pages where they are (tests/progs/vm_next_touch.c).
PROG=build/tests/progs/vm_next_touch
. tests/vm_lib.sh
vm_need $PROG
build/numashadow vm --nodes 2 --file build/numashadow --file $PROG -- /bin/sh -c '
	echo 0 > /proc/sys/kernel/numa_balancing
	build/numashadow run --verify -- "$0" || exit
	exec build/numashadow run --verify --next-touch-at 1 -- "$0" cli' $PROG
