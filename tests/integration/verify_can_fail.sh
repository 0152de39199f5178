#!/bin/sh
# verify_can_fail: verify mode is able to fail.  The test build's
# NUMASHADOW_TEST_CORRUPT setting (build/test/, runtime/corrupt.c) damages
# one shadow entry right after start-up; for each kind (vma-prot,
# vma-bounds, page-node, page-ghost, mapper) the
# small program touch_and_fork (private and shared pages, an mprotect'ed
# range, a child sharing pages after fork, numashadow_verify() in both
# processes) must exit 86 under `numashadow run --verify` and under
# --verify=2, with at least one `numashadow: verify:` line on stderr naming
# an address (for the VMA kinds, describing the kernel's side and the
# shadow's as they are), and nothing on stdout.  Without corruption the same runs exit
# 0 with no verify line.  The shipped library does not honour the setting:
# with it each kind exits 0 with no verify line, and its symbols hold no
# corrupt_ function.  Run from the project root.
. tests/int_lib.sh
PROG=build/tests/progs/touch_and_fork
need "$PROG" "$NS_TEST"

# run LABEL VERIFY_OPTION [CORRUPT_KIND [COMMAND]]: one run, through the
# test build unless COMMAND is given; leaves rc, $tmp/out, $tmp/err
run() {
	if [ -n "${3:-}" ]; then
		env -u NUMASHADOW_VERIFY NUMASHADOW_TEST_CORRUPT="$3" \
			"${4:-$NS_TEST}" run "$2" -- "$PROG" >"$tmp/out" 2>"$tmp/err"
	else
		env -u NUMASHADOW_VERIFY -u NUMASHADOW_TEST_CORRUPT \
			"$NS" run "$2" -- "$PROG" >"$tmp/out" 2>"$tmp/err"
	fi
	rc=$?
	[ -s "$tmp/out" ] && fail "$1: wrote to stdout: $(head -c 200 "$tmp/out")"
}

show() {
	head -n 10 "$tmp/err" | sed 's/^/    /'
}

for level in --verify --verify=2; do
	run "clean $level" "$level"
	if [ "$rc" != 0 ] || grep -a -q '^numashadow: verify:' "$tmp/err"; then
		fail "clean run $level: exit $rc"
		show
	fi
	for kind in vma-prot vma-bounds page-node page-ghost mapper; do
		run "$kind $level" "$level" "$kind"
		n=$(grep -a -c '^numashadow: verify:' "$tmp/err")
		addr=$(grep -a '^numashadow: verify:' "$tmp/err" | grep -a -c -E '0x[0-9a-fA-F]{4,}')
		if [ "$rc" != 86 ] || [ "$n" -eq 0 ] || [ "$addr" -eq 0 ]; then
			fail "$kind $level: exit $rc (want 86), $n verify lines, $addr naming an address"
			show
		else
			echo "$kind $level: exit 86, $n verify lines"
			grep -a -m1 '^numashadow: verify:' "$tmp/err" | sed 's/^/    /'
		fi
		# The VMA kinds spoil an anonymous writable mapping: the line
		# must describe each side as it is.
		want=
		[ "$kind" = vma-bounds ] && want='kernel rw-p anon [^,]*, shadow unmapped$'
		[ "$kind" = vma-prot ] && want='kernel rw-p anon [^,]*, shadow rwxp anon '
		if [ -n "$want" ] && ! grep -a -q "^numashadow: verify: pid [0-9]*: 0x.*: $want" "$tmp/err"; then
			fail "$kind $level: no line describing both sides right (want '$want')"
			show
		fi
	done
done

# The shipped library leaves its shadow alone, whatever is asked.
for kind in vma-prot vma-bounds page-node page-ghost mapper; do
	run "shipped, $kind" --verify "$kind" "$NS"
	if [ "$rc" != 0 ] || grep -a -q '^numashadow:' "$tmp/err"; then
		fail "shipped library with NUMASHADOW_TEST_CORRUPT=$kind: exit $rc (want 0)"
		show
	else
		echo "shipped, $kind: exit 0, nothing said"
	fi
done
if command -v nm >/dev/null; then
	syms=$(nm build/libnumashadow.so | grep -c corrupt_)
	[ "$syms" = 0 ] || fail "build/libnumashadow.so has $syms corrupt_ symbols"
	nm build/test/libnumashadow.so | grep -q ' corrupt_kind$' ||
		fail "build/test/libnumashadow.so has no corrupt_kind (is nm reading it?)"
fi

finish
