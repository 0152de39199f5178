#!/bin/sh
# tests/vm/migrate_nodes.sh - migrate_pages(2) for a numashadow process, in
# a 4-node guest: numashadow_migrate_nodes() moves the pages on each node
# of one mask to the matching node of the other (the steps and checks are
# in tests/progs/vm_migrate_nodes.c: the kernel asked about every page,
# numashadow_page_node() and verify agreeing), then `numashadow migrate
# --pid P --from 0,1 --to 2-3` does the same to a program started with
# --ctl, which checks its pages itself when told, and the command refuses
# bad lists with one line naming the option.  Automatic NUMA balancing is
# off in the guest, so only our migrations move pages.
PROG=build/tests/progs/vm_migrate_nodes
. tests/vm_lib.sh
vm_need $PROG

out=$(build/numashadow vm --nodes 4 --file build/numashadow --file $PROG -- /bin/sh -c '
	NS=build/numashadow PROG=$0
	echo 0 > /proc/sys/kernel/numa_balancing || exit 125
	$NS run --verify -- $PROG && echo "case api: PASS"

	$NS run --ctl --verify -- $PROG serve > /tmp/out 2>&1 &
	pid=$!
	i=0
	until grep -q "^ready$" /tmp/out; do
		i=$((i + 1))
		[ $i -lt 300 ] || { cat /tmp/out; echo "FAIL: the program never got ready"; exit 1; }
		sleep 0.1
	done
	# refused by the command (2) or by the process (1), one line each
	bad() {	# bad STATUS PATTERN ARGS...
		want=$1 pat=$2
		shift 2
		msg=$($NS migrate --pid $pid "$@" 2>&1); rc=$?
		[ $rc -eq $want ] && [ "$(echo "$msg" | wc -l)" -eq 1 ] &&
			echo "$msg" | grep -q -- "$pat" ||
			{ echo "FAIL: migrate $*: exit $rc: $msg"; return 1; }
		echo "refused: migrate $*: $msg"
	}
	ok=1
	bad 2 "^numashadow: migrate: --from: expected a node list" --from 0,x --to 2 || ok=
	bad 2 "^numashadow: migrate: --from: expected a node list" --from 64 --to 2 || ok=
	bad 2 "^numashadow: migrate: --from: expected a node list" --from 1-0 --to 2 || ok=
	bad 2 "^numashadow: migrate: --to: expected a node number" --from 0 --to 2, || ok=
	bad 2 "must name as many nodes (2 and 1)" --from 0,1 --to 2 || ok=
	bad 2 "exclude each other" --from 0 --to 1 --range 1000-2000 || ok=
	bad 2 "^numashadow: migrate: --to: expected a node number 0 to 63 (a list needs --from)" --to 0,1 || ok=
	bad 1 "node 5 is not online (online nodes: 0,1,2,3)" --from 0 --to 5 || ok=
	[ -n "$ok" ] && echo "case cli-refused: PASS"

	$NS migrate --pid $pid --from 0,1 --to 2-3 --sync > /tmp/mig 2>&1 ||
		{ cat /tmp/mig; echo "FAIL: numashadow migrate --from 0,1 --to 2-3"; }
	cat /tmp/mig
	grep -q "^moved [1-9][0-9]* pages from nodes 0,1 to nodes 2,3$" /tmp/mig &&
		echo "case cli-answer: PASS"
	$NS stat --pid $pid > /tmp/stat && grep -E "^node [0-3]:|^migrations:" /tmp/stat
	kill -USR1 $pid
	wait $pid; rc=$?
	cat /tmp/out
	[ $rc -eq 0 ] && grep -q "^vm_migrate_nodes serve: PASS$" /tmp/out &&
		echo "case cli-pages: PASS"
	true' $PROG 2>&1)
rc=$?
echo "$out"
vm_expect_cases "api
cli-refused
cli-answer
cli-pages"
echo "$out" | grep -q "^vm_migrate_nodes: PASS (1024 pages" ||
	fail "the program did not report its checks done"
echo "PASS: pages moved between node masks in a 4-node guest, by the API and by the command"
