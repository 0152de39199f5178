# tests/vm_lib.sh - sourced by the tests in tests/vm/ (run from the project
# root): what each needs before it boots the guest.

fail() { echo "FAIL: $*"; exit 1; }

# vm_need FILE...: fails without qemu (these tests never skip: a run
# without the guest cannot pass), without build/numashadow or without one
# of the files.
vm_need() {
	command -v qemu-system-x86_64 >/dev/null 2>&1 ||
		fail "qemu-system-x86_64 not installed (Debian package qemu-system-x86; make deps installs it)"
	for f in build/numashadow "$@"; do
		[ -x "$f" ] || fail "$f missing; run make check-tests"
	done
}

# vm_run_verified NODES PROG [ARG...]: runs PROG under `numashadow run
# --verify` in a NODES-node guest with automatic NUMA balancing off (so
# only our migrations move pages); prints its output, leaves it in $out,
# and fails unless the guest command exits 0.  The guest needs its files
# named with --file: a sh -c script is not searched for them.
vm_run_verified() {
	nodes=$1 prog=$2
	shift 2
	out=$(build/numashadow vm --nodes "$nodes" --file build/numashadow --file "$prog" -- \
		/bin/sh -c 'f=/proc/sys/kernel/numa_balancing
			[ ! -e $f ] || echo 0 >$f || exit 125
			exec build/numashadow run --verify -- "$@"' sh "$prog" "$@" 2>&1)
	rc=$?
	echo "$out"
	[ $rc -eq 0 ] || fail "exit status $rc"
}

# vm_run_self FILE...: runs this script again inside a 2-node guest, as
# `SCRIPT --guest`, with FILE... copied in; prints its output, leaves it
# in $out and the guest's status in $rc.
vm_run_self() {
	files=
	for f in build/numashadow "$@"; do
		files="$files --file $f"
	done
	out=$(build/numashadow vm --nodes 2 $files -- /bin/sh "$0" --guest 2>&1)
	rc=$?
	echo "$out"
}

# vm_expect_cases LIST: LIST holds one case per line, as the guest half
# prints it between "case " and ": PASS"; fails naming (by first word)
# each case that did not pass, then unless the guest exited 0.
vm_expect_cases() {
	bad=
	while IFS= read -r c; do
		[ -n "$c" ] || continue
		echo "$out" | grep -qxF "case $c: PASS" || bad="$bad ${c%% *}"
	done <<CASES
$1
CASES
	[ -z "$bad" ] || fail "cases failed or did not report:$bad"
	[ $rc -eq 0 ] || fail "exit status $rc"
}
