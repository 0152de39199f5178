# tests/int_lib.sh - sourced by the shell tests in tests/integration/ (run
# from the project root): the command (and its test build), a scratch directory removed at exit
# (kept with NS_KEEP_TMP=1, for a look), failures counted rather than fatal,
# the shape of a refusal (expect_fail).  tests/report_lib.sh and
# tests/stat_lib.sh source it and add what several report_*.sh or
# stat_*.sh tests share.
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

# expect_fail WANT LABEL PATTERN CMD...: CMD exits WANT (a status, or
# nonzero) with one line on stderr matching PATTERN and nothing on stdout.
expect_fail() {
	want=$1 label=$2 pat=$3
	shift 3
	"$@" >"$tmp/o" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$want" = nonzero ]; then
		[ $rc -ne 0 ] || fail "$label: exit 0"
	else
		[ $rc -eq "$want" ] || fail "$label: exit $rc, want $want"
	fi
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$label: not one line: $(cat "$tmp/err")"
	grep -q -- "$pat" "$tmp/err" || fail "$label: '$(cat "$tmp/err")' lacks '$pat'"
	[ -s "$tmp/o" ] && fail "$label: wrote to stdout"
}

# finish: ends the test, failing when anything failed.
finish() {
	[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
	exit 0
}
