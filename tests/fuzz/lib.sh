# tests/fuzz/lib.sh - one bounded libFuzzer run; sourced by tests/fuzz/*.sh.
#
# fuzz_run NAME [LIBFUZZER OPTION...] runs build/tests/fuzz/NAME (built by
# `make check-tests` or `make fuzz`) on the seeds in tests/fuzz/seeds/NAME
# for NS_FUZZ_SECONDS seconds (30 by default: `make test`; `make fuzz`
# sets FUZZ_SECONDS), with a fixed seed (NS_FUZZ_SEED, 1 by default).
# New inputs go to build/fuzz/NAME/corpus, emptied first unless
# NS_FUZZ_KEEP is set (`make fuzz` keeps it, so runs build on each other).
# Exit 0: no crash; 1: a crash, a sanitizer report, a leak or a timeout,
# with the reproducer's path; 77: the harness is not built (no libFuzzer).
# Run from the project root.
fuzz_run() {
	name=$1
	shift
	bin=build/tests/fuzz/$name
	secs=${NS_FUZZ_SECONDS:-30}
	seed=${NS_FUZZ_SEED:-1}
	work=build/fuzz/$name
	if [ ! -x "$bin" ]; then
		echo "SKIP: $bin is not built: libFuzzer needs clang and libclang-rt-dev (make deps)"
		exit 77
	fi
	[ -n "$NS_FUZZ_KEEP" ] || rm -rf "$work/corpus"
	rm -rf "$work/artifacts"
	mkdir -p "$work/corpus" "$work/artifacts"
	# UBSan stops at the first report (the harness is built with
	# -fno-sanitize-recover too); libFuzzer's own exit codes become 1.
	# The outer timeout is a backstop: max_total_time plus one input's
	# -timeout, plus start-up, stays under it.
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS} \
	ASAN_OPTIONS=abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
	timeout -k 5 $((secs + 25)) "$bin" -seed="$seed" -max_total_time="$secs" \
		-timeout=10 -error_exitcode=1 -timeout_exitcode=1 \
		-artifact_prefix="$work/artifacts/" -print_final_stats=1 \
		"$@" "$work/corpus" "tests/fuzz/seeds/$name"
	rc=$?
	found=$(ls "$work/artifacts" 2>/dev/null)
	if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
		echo "fuzz $name: no crash in ${secs}s (seed $seed)"
		return 0
	fi
	case $rc in
	124|137) echo "FAIL: fuzz $name: did not stop within $((secs + 25))s" ;;
	*) echo "FAIL: fuzz $name: exit $rc" ;;
	esac
	for f in $found; do
		echo "reproducer: $work/artifacts/$f (run: $bin $work/artifacts/$f)"
	done
	exit 1
}
