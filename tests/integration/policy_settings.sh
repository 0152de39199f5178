#!/bin/sh
# policy_settings: a placement setting the runtime does not accept costs one
# line and numashadow's placement, nothing else.  The helper program chatty
# (it maps, forks and runs threads; its stdout is known in advance) runs
# under `numashadow run --verify` with no placement setting, then with each
# refused setting below.  Each refused run must print exactly one
# "numashadow:" line on stderr, once though chatty forks, starting
# "numashadow: NAME=VALUE: not accepted (accepted: " and ending
# "; running without numashadow's placement"; its stdout, exit status and
# other stderr lines must be those of the run without a setting (the
# runtime stays active).  With NUMASHADOW_REPORT=1 a refused setting leaves
# no "first touches" report line (nothing is placed) where an accepted
# one, membind=0, has one, and membind=0 alone prints nothing.  Host only:
# node 0 is online everywhere, node 9 nowhere this runs.  Placement with
# the control socket off (the monitor is then the runtime's first thread)
# runs to the end with chatty's output.  Run from the project root.
. tests/int_lib.sh
PROG=build/tests/progs/chatty
need "$PROG"
if [ -e /sys/devices/system/node/node9 ]; then
	echo "FAIL: node 9 exists here; this test needs it absent"
	exit 1
fi

# run NAME [VAR=VALUE...]: chatty under the runtime with only those
# placement settings; leaves $tmp/NAME.{out,err,rc}.
run() {
	name=$1
	shift
	env -u LD_PRELOAD -u NUMASHADOW_POLICY -u NUMASHADOW_RULES \
	    -u NUMASHADOW_FAULT_AROUND -u NUMASHADOW_MONITOR_FROM -u NUMASHADOW_REPORT -u NUMASHADOW_LOG \
	    -u NUMASHADOW_VERIFY "$@" "$NS" run --verify -- "$PROG" 3 \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
	echo $? >"$tmp/$name.rc"
}

run base
[ "$(cat "$tmp/base.rc")" = 3 ] || fail "run without a setting: exit $(cat "$tmp/base.rc")"
if grep -aq '^numashadow:' "$tmp/base.err"; then
	fail "run without a setting printed runtime lines"
	sed 's/^/    /' "$tmp/base.err"
fi
grep -aqx 'chatty: runtime active' "$tmp/base.err" ||
	fail "the runtime is not active in the run without a setting"

# refused NAME VALUE: the setting NAME=VALUE (with the others unset) is
# refused in one line and changes nothing else.
refused() {
	var=$1 val=$2
	label="$var=$val"
	run bad "$var=$val"
	[ "$(cat "$tmp/bad.rc")" = 3 ] || fail "$label: exit $(cat "$tmp/bad.rc"), want 3"
	cmp -s "$tmp/base.out" "$tmp/bad.out" || fail "$label: stdout differs"
	n=$(grep -a -c '^numashadow:' "$tmp/bad.err")
	line=$(grep -a '^numashadow:' "$tmp/bad.err" | head -n 1)
	if [ "$n" -ne 1 ]; then
		fail "$label: $n numashadow lines on stderr, want 1"
		sed 's/^/    /' "$tmp/bad.err"
	fi
	case $line in
	"numashadow: $label: not accepted (accepted: "*"; running without numashadow's placement") ;;
	*) fail "$label: unexpected line: $line" ;;
	esac
	grep -a -v '^numashadow:' "$tmp/bad.err" >"$tmp/bad.own"
	if ! cmp -s "$tmp/base.err" "$tmp/bad.own"; then
		fail "$label: the program's stderr differs (is the runtime still active?)"
		diff "$tmp/base.err" "$tmp/bad.own" | sed 's/^/    /'
	fi
}

refused NUMASHADOW_POLICY membind=9
refused NUMASHADOW_POLICY interleave=0-9
refused NUMASHADOW_POLICY preferred=9
refused NUMASHADOW_POLICY weighted-interleave=0:0
refused NUMASHADOW_POLICY membind=0x
refused NUMASHADOW_POLICY bogus
refused NUMASHADOW_RULES 'size>=64Q:membind=0'
refused NUMASHADOW_RULES 'site=:f:membind=0'
refused NUMASHADOW_RULES 'size>=1M:membind=9'
refused NUMASHADOW_MONITOR_FROM 2Q
refused NUMASHADOW_MONITOR_FROM 131073G
refused NUMASHADOW_MONITOR_FROM -1

# The policy's own words name what it takes.
run bad NUMASHADOW_POLICY=membind=9
for value in localalloc membind=NODES preferred=NODE interleave=NODES weighted-interleave=; do
	grep -a '^numashadow:' "$tmp/bad.err" | grep -qF "$value" ||
		fail "NUMASHADOW_POLICY=membind=9: accepted value '$value' not named"
done

# An accepted policy is silent and places; a refused one places nothing,
# even when the refused part is only the rules.
run good NUMASHADOW_POLICY=membind=0
[ "$(cat "$tmp/good.rc")" = 3 ] || fail "membind=0: exit $(cat "$tmp/good.rc")"
cmp -s "$tmp/base.out" "$tmp/good.out" || fail "membind=0: stdout differs"
cmp -s "$tmp/base.err" "$tmp/good.err" || fail "membind=0: stderr differs from the run without a setting"
run good NUMASHADOW_REPORT=1 NUMASHADOW_POLICY=membind=0
grep -aq '^numashadow: report: pid [0-9]* first touches: ' "$tmp/good.err" ||
	fail "membind=0 with NUMASHADOW_REPORT=1: no first-touch report line"
# The same report as JSON: one line per process of the family, each an
# object naming only the online node; the first process's first touches
# count pages placed (its forked child may place none).
run good NUMASHADOW_REPORT=json NUMASHADOW_POLICY=membind=0
grep -a '^numashadow: report: {' "$tmp/good.err" | sed 's/^numashadow: report: //' |
	/usr/bin/python3 -c '
import json, sys
placed = 0
for line in sys.stdin:
    r = json.loads(line)
    assert set(r) >= {"pid", "when", "pages_by_node", "first_touch", "migrations"}, r
    assert set(r["pages_by_node"]) == {"0"}, r
    assert set(r["migrations"]) >= {"calls", "moved", "shared", "busy", "passes"}, r
    placed = max(placed, r["first_touch"]["pages"])
sys.exit(0 if placed > 0 else 1)' ||
	fail "NUMASHADOW_REPORT=json: no report line, or one that is not the expected JSON"
run bad NUMASHADOW_REPORT=yes
[ "$(cat "$tmp/bad.rc")" = 3 ] || fail "NUMASHADOW_REPORT=yes: exit $(cat "$tmp/bad.rc"), want 3"
grep -aqx "numashadow: NUMASHADOW_REPORT=yes: not accepted (accepted: 0, 1 or json); running without numashadow" "$tmp/bad.err" ||
	fail "NUMASHADOW_REPORT=yes: not refused in one line naming the accepted values: $(head -n 2 "$tmp/bad.err")"
run bad NUMASHADOW_REPORT=1 NUMASHADOW_POLICY=membind=9
grep -aq ' first touches: ' "$tmp/bad.err" &&
	fail "membind=9 refused, yet the report shows pages placed"
run bad NUMASHADOW_REPORT=1 NUMASHADOW_POLICY=membind=0 NUMASHADOW_RULES=bogus
grep -aq '^numashadow: NUMASHADOW_RULES=bogus: not accepted' "$tmp/bad.err" ||
	fail "NUMASHADOW_RULES=bogus: not refused"
grep -aq ' first touches: ' "$tmp/bad.err" &&
	fail "NUMASHADOW_RULES=bogus refused, yet membind=0 still placed pages"

# Placement without the control socket: the monitor is then the first
# thread the runtime starts, and starting it must not wait on itself (the
# unwinder's first memory, mapped inside pthread_create, is never placed).
# A hang here ends in the timeout's status.
for w in 1 512; do
	run noctl$w NUMASHADOW_CTL=0 NUMASHADOW_POLICY=membind=0 NUMASHADOW_FAULT_AROUND=$w timeout -s KILL 60
	[ "$(cat "$tmp/noctl$w.rc")" = 3 ] ||
		fail "membind=0, window $w, no control socket: exit $(cat "$tmp/noctl$w.rc")"
	cmp -s "$tmp/base.out" "$tmp/noctl$w.out" ||
		fail "membind=0, window $w, no control socket: output differs"
done

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "PASS: refused settings cost one line each and placement only"
exit 0
