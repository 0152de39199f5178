# tests/int_lib.sh - sourced by the shell tests in tests/integration/ (run
# from the project root): the command (and its test build), a scratch directory removed at exit
# (kept with NS_KEEP_TMP=1, for a look), failures counted rather than fatal.
set -u
NS=${NUMASHADOW_BIN:-build/numashadow}
case $NS in /*) ;; *) NS=$(pwd)/$NS ;; esac
# The test build (make check-tests): the command beside the library that
# also honours NUMASHADOW_TEST_CORRUPT (runtime/corrupt.c; the shipped
# library does not read it).
NS_TEST=$(pwd)/build/test/numashadow
tmp=$(mktemp -d /tmp/numashadow-test.XXXXXX)
on_exit=:	# more to do at exit: a test's background process
trap 'eval "$on_exit"; [ -n "${NS_KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM	# so the EXIT trap runs
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# need FILE...: stops the test unless the command and each FILE are built.
need() {
	for f in "$NS" "$@"; do
		[ -e "$f" ] || { echo "FAIL: $f not built (make check-tests)"; exit 1; }
	done
}

# finish: ends the test, failing when anything failed.
finish() {
	[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
	exit 0
}
