#!/bin/sh
# real_programs: what real programs count on still holds under every
# setting of `numashadow run`: none, --verify, --interleave=all,
# --localalloc, --membind=0, --balance, --next-touch-at 0.05 and --trace
# FILE (a fresh file each run), each compared with the program run plainly.
# (1) A process ends when its last program thread does: main calling
# pthread_exit while a worker prints then returns exits 0 with the worker's
# line (thread_end main-first), a single thread ending with the raw exit
# system call exits 3 (raw-exit), and a child forked by a second thread
# whose only thread calls pthread_exit exits 0, as does its parent
# (fork-thread), each within 10 s.  (2) SIGTERM, sent half a second after
# sleepers says its threads wait in pause() and sleep(), ends it within
# 5 s with status 143.  (3) The descriptors below the soft RLIMIT_NOFILE
# that fstat accepts are the plain run's (fd_list fstat), and with no
# setting /proc/self/fd lists the plain run's too (fd_list proc).  (4) 50
# rounds of mremap shrinking to fixed addresses, growing in place and
# moving with MREMAP_DONTUNMAP end in "ok" (remap_cycle).  (5) Writing one
# byte every 2 MiB + 28 KiB of 1 GiB costs, under --interleave=all and
# --localalloc, at most 1.1 times the plain run's RssAnon + 256 KiB
# (sparse_rss).  (6) 10,000 children forked and reaped one by one, with no
# setting and with --verify, and 3,000 after the parent wrote 64 MiB (no
# setting: 3,000 such forks under --verify take minutes), leave nothing on
# stdout or stderr, "arena full" least of all (reap_children).  (7) Under
# --trace, python3 running /bin/true 20 times through subprocess says
# nothing on stderr, and `numashadow trace` reads the file (exit 0) and
# shows exec records of more than one pid; sh's $(echo ... | head -n 1),
# 20 times, prints what it prints plainly.  (8) Every run under the
# runtime prints on stdout only lines the plain run printed.  (9) A parent
# forking 20 times while two threads map, write and unmap regions and
# malloc and free: every child exits 0, and under --verify no verify line
# (fork_busy).  Run from the project root; NS_KEEP_TMP=1 keeps the outputs.
. tests/int_lib.sh
P=build/tests/progs
need $P/thread_end $P/sleepers $P/fd_list $P/remap_cycle $P/sparse_rss $P/reap_children $P/fork_busy
# The distribution's python3, not a wrapper PATH may put first.
PY=/usr/bin/python3
[ -x $PY ] || { echo "FAIL: $PY is not installed (make deps installs it)"; exit 1; }

# Nothing from the caller's environment chooses a setting behind our back.
unset LD_PRELOAD
for v in $(env | sed -n 's/^\(NUMASHADOW_[A-Z_]*\)=.*/\1/p'); do
	[ "$v" = NUMASHADOW_BIN ] || unset "$v"
done

SETTINGS="none verify interleave localalloc membind balance next-touch trace"

# opts SETTING [CASE]: the options of `numashadow run` for SETTING; each
# case's --trace run has a file of its own.
opts() {
	case $1 in
	none) echo "" ;;
	verify) echo "--verify" ;;
	interleave) echo "--interleave=all" ;;
	localalloc) echo "--localalloc" ;;
	membind) echo "--membind=0" ;;
	balance) echo "--balance" ;;
	next-touch) echo "--next-touch-at 0.05" ;;
	trace) echo "--trace $tmp/${2:-x}.tr" ;;
	esac
}

# label SETTING: how messages name it.
label() {
	case $1 in
	plain) echo "plainly" ;;
	none) echo "under no setting" ;;
	trace) echo "under --trace" ;;
	*) echo "under $(opts "$1")" ;;
	esac
}

# run CASE SETTING LIMIT PROG ARGS...: PROG plainly (SETTING plain) or
# under the runtime, killed after LIMIT seconds; leaves
# $tmp/CASE.SETTING.{out,err} and the exit status in $rc.
run() {
	cname=$1 sname=$2 limit=$3
	shift 3
	if [ "$sname" = plain ]; then
		timeout -s KILL "$limit" "$@" >"$tmp/$cname.$sname.out" 2>"$tmp/$cname.$sname.err"
	else
		# shellcheck disable=SC2046 # opts is meant to split
		timeout -s KILL "$limit" "$NS" run $(opts "$sname" "$cname") -- "$@" \
			>"$tmp/$cname.$sname.out" 2>"$tmp/$cname.$sname.err"
	fi
	rc=$?
}

# show FILE: a file's first lines, indented, for a failure's detail.
show() {
	[ -s "$1" ] && head -n 10 "$1" | sed 's/^/    /'
}

# expect CASE SETTING STATUS: the run ended with STATUS (137: killed at
# its time limit) and printed what the plain run printed.
expect() {
	if [ "$rc" -ne "$3" ]; then
		if [ "$rc" -eq 137 ]; then
			fail "$1 $(label "$2"): still running at its time limit (killed), want exit $3"
		else
			fail "$1 $(label "$2"): exit $rc, want $3"
		fi
		show "$tmp/$1.$2.err"
	fi
	if [ "$2" != plain ] && ! cmp -s "$tmp/$1.plain.out" "$tmp/$1.$2.out"; then
		fail "$1 $(label "$2"): stdout is not the plain run's"
		diff "$tmp/$1.plain.out" "$tmp/$1.$2.out" | head -n 10 | sed 's/^/    /'
	fi
}

# --- 1: the last program thread's end ends the process --------------------
# Each: MODE, the exit status, the line it prints (plainly too).
for c in "main-first 0 worker: done" "raw-exit 3 raw-exit: bye" "fork-thread 0 child: exit 0"; do
	mode=${c%% *}
	rest=${c#* }
	want=${rest%% *}
	line=${rest#* }
	run "end-$mode" plain 10 $P/thread_end "$mode"
	expect "end-$mode" plain "$want"
	[ "$(cat "$tmp/end-$mode.plain.out")" = "$line" ] ||
		fail "end-$mode plainly: stdout '$(cat "$tmp/end-$mode.plain.out")', want '$line'"
	for s in $SETTINGS; do
		run "end-$mode" "$s" 10 $P/thread_end "$mode"
		expect "end-$mode" "$s" "$want"
	done
done

# --- 2: SIGTERM ends a process whose threads all wait ---------------------
# term SETTING: sleepers started, SIGTERM half a second after it says its
# threads are started, then at most 5 s for it to die of it.
term() {
	out=$tmp/term.$1.out
	err=$tmp/term.$1.err
	if [ "$1" = plain ]; then
		$P/sleepers >"$out" 2>"$err" &
	else
		# shellcheck disable=SC2046
		"$NS" run $(opts "$1" term) -- $P/sleepers >"$out" 2>"$err" &
	fi
	pid=$!	# run execs the program: this is its pid
	i=0
	while [ ! -s "$out" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$out" ] || fail "term $(label "$1"): sleepers said nothing in 5 s"
	sleep 0.5
	kill -TERM "$pid" 2>/dev/null
	i=0
	while [ $i -lt 50 ]; do
		st=Z
		[ -r /proc/$pid/stat ] && read -r _ _ st _ </proc/$pid/stat
		[ "$st" = Z ] && break
		sleep 0.1
		i=$((i + 1))
	done
	if [ "$st" != Z ]; then
		fail "term $(label "$1"): still running 5 s after SIGTERM"
		show "$err"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null	# no "Terminated" from the shell
	rc=$?
	[ "$rc" -eq 143 ] || [ "$st" != Z ] ||
		{ fail "term $(label "$1"): status $rc after SIGTERM, want 143"; show "$err"; }
}
for s in plain $SETTINGS; do
	term "$s"
done

# --- 3: the program's descriptors, and only them --------------------------
run fds plain 30 $P/fd_list fstat
expect fds plain 0
for s in $SETTINGS; do
	run fds "$s" 30 $P/fd_list fstat
	expect fds "$s" 0
done
run procfd plain 10 $P/fd_list proc
expect procfd plain 0
run procfd none 10 $P/fd_list proc
expect procfd none 0

# --- 4: mremap's moving forms ---------------------------------------------
run remap plain 30 $P/remap_cycle 50
expect remap plain 0
[ "$(cat "$tmp/remap.plain.out")" = "remap_cycle: ok" ] ||
	{ fail "remap plainly: $(cat "$tmp/remap.plain.out")"; show "$tmp/remap.plain.err"; }
for s in $SETTINGS; do
	run remap "$s" 30 $P/remap_cycle 50
	expect remap "$s" 0
done

# --- 5: a sparse toucher's resident set -----------------------------------
# rss SETTING: the kB of the RssAnon line sparse_rss printed, or nothing.
rss() {
	sed -n 's/^RssAnon: \([0-9][0-9]*\) kB$/\1/p' "$tmp/sparse.$1.out"
}
run sparse plain 30 $P/sparse_rss
base=$(rss plain)
if [ "$rc" -ne 0 ] || [ -z "$base" ]; then
	fail "sparse plainly: exit $rc, stdout '$(cat "$tmp/sparse.plain.out")'"
	base=0
fi
for s in $SETTINGS; do
	run sparse "$s" 30 $P/sparse_rss
	kb=$(rss "$s")
	if [ "$rc" -ne 0 ] || [ -z "$kb" ]; then
		fail "sparse $(label "$s"): exit $rc, stdout '$(cat "$tmp/sparse.$s.out")'"
		show "$tmp/sparse.$s.err"
		continue
	fi
	case $s in
	interleave|localalloc)
		max=$((base * 11 / 10 + 256))
		[ "$kb" -le "$max" ] ||
			fail "sparse $(label "$s"): RssAnon $kb kB, plainly $base kB (at most $max kB)" ;;
	esac
done
echo "sparse_rss: RssAnon plainly $base kB, --interleave=all $(rss interleave) kB, --localalloc $(rss localalloc) kB"

# --- 7: a traced family across exec ---------------------------------------
run py trace 60 $PY -c 'import subprocess; [subprocess.run(["/bin/true"]) for _ in range(20)]'
[ "$rc" -eq 0 ] || fail "python3 subprocess under --trace: exit $rc"
if [ -s "$tmp/py.trace.err" ]; then
	fail "python3 subprocess under --trace: lines on stderr"
	show "$tmp/py.trace.err"
fi
"$NS" trace "$tmp/py.tr" >"$tmp/py.text" 2>"$tmp/py.terr"
rc=$?
if [ "$rc" -ne 0 ]; then
	fail "numashadow trace of the python3 family: exit $rc"
	show "$tmp/py.terr"
fi
# Text lines: "TIME  pid P tid T  exec".
pids=$(awk '$2 == "pid" && $6 == "exec" { print $3 }' "$tmp/py.text" | sort -u | wc -l)
[ "$pids" -gt 1 ] ||
	fail "numashadow trace of the python3 family: exec records of $pids pid(s), want more than 1"
echo "trace: exec records of $pids pids"
# A traced shell's command substitutions over a pipe (wrapper scripts
# such as pyenv's python3 find their tools this way): each holds the
# line the pipe carried, as plainly.
# shellcheck disable=SC2016 # expanded by the sh that runs it
pipes='i=0; while [ $i -lt 20 ]; do x=$(echo "line $i" | head -n 1); echo "got <$x>"; i=$((i + 1)); done'
run shpipe plain 30 sh -c "$pipes"
run shpipe trace 30 sh -c "$pipes"
expect shpipe trace 0
[ -s "$tmp/shpipe.trace.err" ] && { fail "sh pipelines under --trace: lines on stderr"; show "$tmp/shpipe.trace.err"; }

# --- 6: dead children released --------------------------------------------
# reaped CASE SETTING: reap_children ran (exit 0) and nothing was said.
reaped() {
	what="$1 $(label "$2")"
	r=$(cat "$tmp/$1.$2.rc")
	if [ "$r" -eq 137 ]; then
		fail "$what: still running at its time limit (killed)"
	elif [ "$r" -ne 0 ]; then
		fail "$what: exit $r"
	fi
	if grep -aq 'arena full' "$tmp/$1.$2.err"; then
		fail "$what: the runtime's arena filled up"
		grep -a 'arena full' "$tmp/$1.$2.err" | head -n 3 | sed 's/^/    /'
	elif [ -s "$tmp/$1.$2.err" ]; then
		fail "$what: lines on stderr"
		show "$tmp/$1.$2.err"
	fi
	[ -s "$tmp/$1.$2.out" ] && { fail "$what: lines on stdout"; show "$tmp/$1.$2.out"; }
	:
}
# The two long runs side by side, one a core.
( run reap10k verify 200 $P/reap_children 10000; echo $rc >"$tmp/reap10k.verify.rc" ) &
( run reap64m none 200 $P/reap_children 3000 64; echo $rc >"$tmp/reap64m.none.rc" ) &
wait
run reap10k none 100 $P/reap_children 10000
echo $rc >"$tmp/reap10k.none.rc"
reaped reap10k none
reaped reap10k verify
reaped reap64m none

# --- 9: forks while other threads map -------------------------------------
run busy plain 60 $P/fork_busy 20
for s in $SETTINGS; do
	run busy "$s" 60 $P/fork_busy 20
	expect busy "$s" 0
	grep -aq 'numashadow: verify' "$tmp/busy.$s.err" && {
		fail "fork_busy $(label "$s"): verify found differences"
		show "$tmp/busy.$s.err"
	}
done

# --- 8: quiet: stdout holds the program's own lines only ------------------
# Every run under the runtime: no line the plain run did not print (a
# different descriptor list, or a pipe's line lost, is reported above,
# not as a line too many).
for f in "$tmp"/*.out; do
	b=${f##*/}
	b=${b%.out}
	cname=${b%%.*}
	sname=${b#*.}
	[ "$sname" = plain ] && continue
	case $cname in
	sparse) extra=$(grep -av '^RssAnon: [0-9][0-9]* kB$' "$f") ;;
	fds) extra=$(grep -avE '^fstat:( [0-9]+)*$' "$f") ;;
	procfd) extra=$(grep -avE '^/proc/self/fd:( [0-9]+)*$' "$f") ;;
	shpipe) extra=$(grep -av '^got <.*>$' "$f") ;;
	reap*|py) extra=$(cat "$f") ;;	# no plain run: nothing expected
	*) extra=$(grep -avxF -f "$tmp/$cname.plain.out" "$f") ;;
	esac
	[ -z "$extra" ] ||
		fail "quiet: $cname $(label "$sname"): lines of no plain run on stdout: $(echo "$extra" | head -n 3)"
done

[ "$fails" -eq 0 ] && echo "real_programs: ok"
finish
