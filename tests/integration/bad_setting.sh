#!/bin/sh
# bad_setting: a setting the runtime does not understand costs one line and
# nothing else.  The helper program chatty runs plain, then preloaded with
# NUMASHADOW_VERIFY=bogus (directly through LD_PRELOAD and through
# `numashadow run`), then with NUMASHADOW_TEST_CORRUPT=bogus (through the
# test build of the library, build/test/: the shipped one ignores it).  Each
# preloaded run must print exactly one `numashadow:` line on stderr (once,
# though chatty forks), starting `numashadow: NAME=bogus: ` and naming the
# accepted values; its stdout and exit status (0, and 3 when asked) must be
# those of the plain run, its other stderr lines too, and the runtime must
# not be active (chatty reports it absent or inactive).  Run from the
# project root.
. tests/int_lib.sh
LIB=${NUMASHADOW_LIB:-$(pwd)/build/libnumashadow.so}
TEST_LIB=$(pwd)/build/test/libnumashadow.so
PROG=build/tests/progs/chatty
need "$PROG" "$LIB" "$TEST_LIB"

clean_env() {
	env -u LD_PRELOAD -u NUMASHADOW_VERIFY -u NUMASHADOW_TEST_CORRUPT \
	    -u NUMASHADOW_LOG "$@"
}

# check LABEL SETTING ACCEPTED...: compare $tmp/bad.* with $tmp/plain.*
check() {
	label=$1
	setting=$2
	shift 2
	if [ "$(cat "$tmp/bad.rc")" != "$(cat "$tmp/plain.rc")" ]; then
		fail "$label: exit $(cat "$tmp/bad.rc"), plain run $(cat "$tmp/plain.rc")"
	fi
	cmp -s "$tmp/plain.out" "$tmp/bad.out" || fail "$label: stdout differs"
	n=$(grep -a -c '^numashadow:' "$tmp/bad.err")
	line=$(grep -a '^numashadow:' "$tmp/bad.err" | head -n 1)
	if [ "$n" -ne 1 ]; then
		fail "$label: $n numashadow lines on stderr, want 1"
		sed 's/^/    /' "$tmp/bad.err"
	fi
	case $line in
	"numashadow: $setting: "*) ;;
	*) fail "$label: line does not start 'numashadow: $setting: ': $line" ;;
	esac
	rest=${line#"numashadow: $setting: "}
	for value in "$@"; do
		case $rest in
		*"$value"*) ;;
		*) fail "$label: accepted value '$value' not named: $line" ;;
		esac
	done
	# The program's own stderr, with the runtime's state normalised.
	grep -a -v '^numashadow:' "$tmp/bad.err" |
		sed 's/^chatty: runtime inactive$/chatty: runtime absent/' >"$tmp/bad.own"
	if ! cmp -s "$tmp/plain.err" "$tmp/bad.own"; then
		fail "$label: the program's stderr differs (is the runtime active?)"
		diff "$tmp/plain.err" "$tmp/bad.own" | sed 's/^/    /'
	fi
}

for status in 0 3; do
	clean_env "$PROG" $status >"$tmp/plain.out" 2>"$tmp/plain.err"
	echo $? >"$tmp/plain.rc"
	[ "$(cat "$tmp/plain.rc")" = $status ] || fail "plain run: exit $(cat "$tmp/plain.rc")"

	clean_env LD_PRELOAD="$LIB" NUMASHADOW_VERIFY=bogus "$PROG" $status \
		>"$tmp/bad.out" 2>"$tmp/bad.err"
	echo $? >"$tmp/bad.rc"
	check "LD_PRELOAD, NUMASHADOW_VERIFY=bogus, status $status" \
		NUMASHADOW_VERIFY=bogus 1 2

	clean_env NUMASHADOW_VERIFY=bogus "$NS" run -- "$PROG" $status \
		>"$tmp/bad.out" 2>"$tmp/bad.err"
	echo $? >"$tmp/bad.rc"
	check "numashadow run, NUMASHADOW_VERIFY=bogus, status $status" \
		NUMASHADOW_VERIFY=bogus 1 2

	clean_env LD_PRELOAD="$TEST_LIB" NUMASHADOW_VERIFY=1 NUMASHADOW_TEST_CORRUPT=bogus \
		"$PROG" $status >"$tmp/bad.out" 2>"$tmp/bad.err"
	echo $? >"$tmp/bad.rc"
	check "LD_PRELOAD, NUMASHADOW_TEST_CORRUPT=bogus, status $status" \
		NUMASHADOW_TEST_CORRUPT=bogus vma-prot vma-bounds page-ghost mapper
done

finish
