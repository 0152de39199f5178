#!/bin/sh
# cli: the `numashadow` command's contract.  --help and -h print usage on
# stdout naming `run` and exit 0; --version prints the version of
# include/numashadow.h and exits 0; `run` without a command (nothing, a bare
# --, only options) and an unknown option or --verify level fail with a
# non-zero status; a command that does not exist gives 127.  `run` keeps an
# LD_PRELOAD entry already set: the other library is still named and still
# loaded (its constructor speaks) next to an active runtime.  The command's
# exit status comes back unchanged (0, 1, 3, 42, and 143 for SIGTERM), with
# and without --verify.  `run --log FILE` runs the program unchanged, and
# the verify lines of a failing run go to FILE (a run of the test build,
# build/test/, with NUMASHADOW_TEST_CORRUPT).  Run from the project root.
. tests/int_lib.sh
CHATTY=$(pwd)/build/tests/progs/chatty
need "$CHATTY" "$NS_TEST"
version=$(sed -n 's/^#define NUMASHADOW_VERSION "\(.*\)"$/\1/p' include/numashadow.h)
[ -n "$version" ] || fail "no NUMASHADOW_VERSION in include/numashadow.h"

# expect_rc WANT LABEL CMD...: run CMD quietly and compare its status.
expect_rc() {
	want=$1
	label=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$want" = nonzero ]; then
		[ "$rc" -ne 0 ] || fail "$label: exit 0, want non-zero"
	elif [ "$rc" != "$want" ]; then
		fail "$label: exit $rc, want $want"
		head -n 5 "$tmp/err" | sed 's/^/    /'
	fi
}

for opt in --help -h; do
	expect_rc 0 "$opt" "$NS" "$opt"
	grep -q 'run' "$tmp/out" || fail "$opt: usage does not name run"
	grep -qi 'usage' "$tmp/out" || fail "$opt: no usage on stdout"
done
expect_rc 0 "help run" "$NS" help run
grep -q -- '--verify' "$tmp/out" || fail "help run: --verify not described"

expect_rc 0 --version "$NS" --version
grep -q "$version" "$tmp/out" || fail "--version: '$(cat "$tmp/out")' lacks $version"

expect_rc nonzero "no subcommand" "$NS"
expect_rc nonzero "unknown subcommand" "$NS" no-such-subcommand
expect_rc nonzero "run, no command" "$NS" run
expect_rc nonzero "run --, no command" "$NS" run --
expect_rc nonzero "run --verify, no command" "$NS" run --verify
expect_rc nonzero "run --verify --, no command" "$NS" run --verify --
[ -s "$tmp/err" ] || fail "run without a command says nothing on stderr"
expect_rc nonzero "run, unknown option" "$NS" run --no-such-option -- true
expect_rc nonzero "run --verify=7" "$NS" run --verify=7 -- true
expect_rc 127 "run, missing program" "$NS" run -- "$tmp/no-such-program"

# Exit statuses come back unchanged.
for v in "" --verify --verify=2; do
	expect_rc 0 "run $v true" "$NS" run $v -- true
	expect_rc 1 "run $v false" "$NS" run $v -- false
	expect_rc 42 "run $v exit 42" "$NS" run $v -- sh -c 'exit 42'
	expect_rc 3 "run $v chatty 3" "$NS" run $v -- "$CHATTY" 3
	expect_rc 143 "run $v SIGTERM" "$NS" run $v -- sh -c 'kill -TERM $$'
done

# An LD_PRELOAD entry set before stays, and its library is loaded.
cat >"$tmp/mark.c" <<'C'
#include <unistd.h>
__attribute__((constructor)) static void mark(void)
{
	static const char m[] = "mark: loaded\n";
	if (write(2, m, sizeof(m) - 1) < 0)
		_exit(99);
}
C
if gcc -shared -fPIC -o "$tmp/libmark.so" "$tmp/mark.c"; then
	LD_PRELOAD="$tmp/libmark.so" "$NS" run -- /usr/bin/env >"$tmp/env" 2>"$tmp/err"
	pre=$(grep '^LD_PRELOAD=' "$tmp/env")
	case $pre in
	*libnumashadow.so*) ;;
	*) fail "run: LD_PRELOAD lacks the runtime: $pre" ;;
	esac
	case $pre in
	*"$tmp/libmark.so"*) ;;
	*) fail "run: the LD_PRELOAD entry set before is gone: $pre" ;;
	esac
	LD_PRELOAD="$tmp/libmark.so" "$NS" run --verify -- "$CHATTY" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = 0 ] || fail "run with another preload: exit $rc"
	grep -a -q '^mark: loaded$' "$tmp/err" || fail "run: the other preloaded library was not loaded"
	grep -a -q '^chatty: runtime active$' "$tmp/err" ||
		fail "run with another preload: the runtime is not active: $(cat "$tmp/err")"
else
	fail "gcc cannot build a test library (make deps installs gcc)"
fi

# --log FILE: the program runs unchanged, and diagnostics go to FILE.
env -u LD_PRELOAD -u NUMASHADOW_VERIFY "$CHATTY" >"$tmp/plain" 2>/dev/null
env -u NUMASHADOW_TEST_CORRUPT "$NS" run --verify --log "$tmp/log" -- "$CHATTY" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] || fail "run --log: exit $rc"
cmp -s "$tmp/plain" "$tmp/out" || fail "run --log: stdout differs from a plain run"
rm -f "$tmp/log"
# A relative FILE names a file in the directory run was called from.
prog=$(pwd)/build/tests/progs/touch_and_fork
(cd "$tmp" && NUMASHADOW_TEST_CORRUPT=vma-prot "$NS_TEST" run --verify --log log -- "$prog") \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 86 ] || fail "run --log with vma-prot: exit $rc, want 86"
if ! grep -a -q '^numashadow: verify:' "$tmp/log" 2>/dev/null; then
	fail "run --log with vma-prot: no verify line in the log file (stderr: $(head -c 300 "$tmp/err"))"
fi

# --report=json: the exit report as one JSON object; another value refused.
out=$("$NS" run --report=json -- true 2>&1)
echo "$out" | sed -n 's/^numashadow: report: //p' | /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert "pages_by_node" in r and "migrations" in r' ||
	fail "run --report=json: no JSON report line: $out"
out=$("$NS" run --report=xml -- true 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] &&
	echo "$out" | grep -q -- "--report: expected json" ||
	fail "run --report=xml: exit $rc, want 2 and one line naming json: $out"

finish
