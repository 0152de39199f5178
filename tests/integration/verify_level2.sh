#!/bin/sh
# verify_level2: the integration programs pass with full checks at every
# tracked call.  Each of fork_tree, threads_mm, raw_syscall, munmap_middle,
# mremap_move, madvise_dontneed and shared_file_fork runs under
# `numashadow run --verify=2` (already preloaded, so it does not re-run
# itself at level 1) and must exit 0 with no `numashadow: verify:` line.
# malloc_heavy is left out: thousands of full checks make it slow and its
# calls are the same kinds.  Run from the project root.
. tests/int_lib.sh
need
for t in fork_tree threads_mm raw_syscall munmap_middle mremap_move \
	 madvise_dontneed shared_file_fork; do
	bin=build/tests/integration/$t
	if [ ! -x "$bin" ]; then
		echo "FAIL: $bin not built"
		fails=$((fails + 1))
		continue
	fi
	env -u NUMASHADOW_TEST_CORRUPT "$NS" run --verify=2 -- "$bin" \
		>"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" != 0 ] || grep -a -q '^numashadow: verify:' "$tmp/err"; then
		echo "FAIL: $t at verify level 2: exit $rc"
		tail -n 15 "$tmp/err" | sed 's/^/    /'
		fails=$((fails + 1))
	else
		echo "$t: ok"
	fi
done
finish
