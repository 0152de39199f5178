#!/bin/sh
# stat_json: what scripts read.  `numashadow stat --pid P --json` is one
# valid JSON object whose numbers agree with the text answer (pid, pages
# per node and their total, every migration counter, each mapping's
# range, kind and pages per node), also after a migrate; for a forked
# family, its shared pages list both processes as mappers.  `stat
# --interval S --count N` prints a header and N lines whose total is the
# sum of the node columns; without --count, SIGINT ends it with status 0,
# as does the process's end (with one line saying so).
# `stat --all` lists the running processes started with --ctl (pid and
# command name) and not one killed with SIGKILL, whose socket file is
# still there; --interval --json and --all --json say the same as JSON
# Lines.  `trace --json` has one JSON object per CSV row with the
# same fields, `trace --summary --json` one per process and the family's
# with the table's numbers.  A fake server's answers: a line of unknown
# shape is skipped, a malformed known line, a cut answer and an error are
# one line and status 1 with nothing on stdout.  Options that do not go
# together are usage errors (2).  Needs python3.  Run from the project root.
. tests/int_lib.sh
PROG=build/tests/progs/workload
TPROG=$(pwd)/build/tests/progs/trace_prog
need $PROG "$TPROG"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

# wait_ctl PID: until the process answers stat.
wait_ctl() {
	for i in $(seq 100); do
		$NS stat --pid "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "pid $1 never answered stat"
	return 1
}

$NS run --ctl -- $PROG 8 30 >/dev/null 2>&1 &
pid=$!
$NS run --ctl -- $PROG 4 30 >/dev/null 2>&1 &
dead=$!
on_exit='kill $pid $dead $fam $child 2>/dev/null; wait 2>/dev/null'
fam= child=
wait_ctl $pid
wait_ctl $dead

# check_json PID: the text and JSON answers agree (each asked twice at
# most: a page may come or go between two requests).
check_json() {
	for try in 1 2 3; do
		$NS stat --pid "$1" >"$tmp/text" 2>"$tmp/err" || { fail "stat: $(cat "$tmp/err")"; return; }
		$NS stat --pid "$1" --json >"$tmp/json" 2>"$tmp/err" ||
			{ fail "stat --json: exit $?: $(cat "$tmp/err")"; return; }
		[ -s "$tmp/err" ] && fail "stat --json said: $(cat "$tmp/err")"
		[ "$(wc -l <"$tmp/json")" -eq 1 ] || fail "stat --json: not one line"
		python3 - "$1" "$tmp/text" "$tmp/json" >"$tmp/why" 2>&1 <<'PY' && return
import json, re, sys
pid, text, js = int(sys.argv[1]), open(sys.argv[2]).read().splitlines(), open(sys.argv[3]).read()
try:
    d = json.loads(js)
except ValueError as e:
    print("invalid JSON:", e, js[:300]); sys.exit(2)
def want(c, m):
    if not c:
        print(m); sys.exit(1)
want(d["pid"] == pid, "pid %s" % d["pid"])
nodes = {m.group(1): int(m.group(2)) for m in (re.match(r"node (\d+): (\d+) pages$", l) for l in text) if m}
want(d["nodes"] == nodes, "nodes %s, text %s" % (d["nodes"], nodes))
want(d["pages"] == sum(nodes.values()), "pages %s" % d["pages"])
mig = [l for l in text if l.startswith("migrations: ")][0].split()[1:]
cnt = {mig[i].replace("-", "_"): int(mig[i + 1]) for i in range(0, len(mig), 2)}
want(d["migrations"] == cnt, "migrations %s, text %s" % (d["migrations"], cnt))
for k in ("calls", "moved", "already", "shared", "not_present", "nomem", "not_movable", "busy", "other", "passes"):
    want(k in d["migrations"], "no migrations.%s" % k)
maps = [l for l in text if l.startswith("0x")]
want(len(d["mappings"]) == len(maps), "%d mappings, text %d" % (len(d["mappings"]), len(maps)))
for m, l in zip(d["mappings"], maps):
    f = l.split()
    want(f[0] == "%s-%s" % (m["start"], m["end"]) and f[1] == m["perms"] and f[2] == m["kind"], "mapping %s, text %s" % (m, l))
    want({int(k): int(v) for k, v in (x[4:].split("=") for x in f[3:])} == {int(k): v for k, v in m["nodes"].items()}, "mapping nodes %s, text %s" % (m, l))
sp = [l for l in text if l.startswith("shared pages: ")][0]
want(sp == "shared pages: %d, with %d mappings in the family" % (d["shared_pages"], d["shared_mappings"]), "shared %s" % sp)
want(len(d["shared"]) == len([l for l in text if l.startswith("shared 0x")]), "shared list")
PY
	done
	fail "stat --json of $1 disagrees with the text: $(cat "$tmp/why")"
}

check_json $pid
$NS migrate --pid $pid --to 0 --sync >/dev/null 2>&1 || fail "migrate --to 0"
check_json $pid
python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not (d["migrations"]["calls"] > 0 and d["migrations"]["already"] > 0))' \
	<"$tmp/json" || fail "stat --json after migrate: counters $(cat "$tmp/json")"

# A forked family: shared pages, both processes as mappers.
$NS run --ctl -- python3 -c 'import os, time; print(os.fork(), flush=True); time.sleep(30)' \
	>"$tmp/fam" 2>/dev/null &
fam=$!
for i in $(seq 100); do [ "$(grep -c . "$tmp/fam")" -ge 2 ] && break; sleep 0.1; done
child=$(grep -v '^0$' "$tmp/fam")
wait_ctl $fam && wait_ctl "$child"
check_json $fam
python3 - $fam "$child" "$tmp/json" >"$tmp/why" 2>&1 <<'PY' || fail "stat --json of a family: $(cat "$tmp/why")"
import json, sys
d = json.load(open(sys.argv[3]))
pids = {int(sys.argv[1]), int(sys.argv[2])}
assert d["shared_pages"] > 0 and d["shared"], "no shared pages"
for s in d["shared"]:
    assert {m["pid"] for m in s["mappers"]} == pids, s
    assert s["addr"].startswith("0x") and s["node"] == 0, s
PY

# --interval with --count: a header and that many lines.
$NS stat --pid $pid --interval 0.2 --count 3 >"$tmp/iv" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "stat --interval --count 3: exit $rc: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/iv")" -eq 4 ] || fail "stat --interval --count 3: $(cat "$tmp/iv")"
head -n 1 "$tmp/iv" | grep -Eq '^ *time +node0 +total +pages/s +moved/s$' ||
	fail "stat --interval: header '$(head -n 1 "$tmp/iv")'"
awk 'NR == 2 && ($4 != "-" || $5 != "-") { exit 1 }
     NR > 1 { s = 0; for (i = 2; i < NF - 2; i++) s += $i; if (s != $(NF - 2) || $2 < 1) exit 1 }
     NR > 2 && $NF !~ /^[0-9.]+$/ { exit 1 }' "$tmp/iv" ||
	fail "stat --interval: lines $(cat "$tmp/iv")"
awk 'NR > 1 { print $1 }' "$tmp/iv" | awk 'NR > 1 && ($1 - last < 0.15 || $1 - last > 1.5) { exit 1 } { last = $1 }' ||
	fail "stat --interval 0.2: times $(cat "$tmp/iv")"

# Without --count, until SIGINT, which ends it with status 0.
$NS stat --pid $pid --interval 0.2 >"$tmp/iv" 2>"$tmp/err" &
st=$!
sleep 1
kill -INT $st
wait $st
rc=$?
[ $rc -eq 0 ] || fail "stat --interval: exit $rc after SIGINT: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/iv")" -ge 3 ] || fail "stat --interval for 1 s: $(cat "$tmp/iv")"

# Until the process ends: status 0 and one line saying so.
$NS run --ctl -- $PROG 4 2 >/dev/null 2>&1 &
short=$!
wait_ctl $short
$NS stat --pid $short --interval 0.2 >"$tmp/iv" 2>"$tmp/err"
rc=$?
wait $short
[ $rc -eq 0 ] || fail "stat --interval of a process that ends: exit $rc: $(cat "$tmp/err")"
[ "$(cat "$tmp/err")" = "numashadow: stat: pid $short has ended" ] ||
	fail "stat --interval of a process that ends: said $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/iv")" -ge 3 ] || fail "stat --interval of a process that ends: $(cat "$tmp/iv")"

# --all: the live ones, not one killed (its socket file left behind).
kill -KILL $dead
wait $dead 2>/dev/null
dir=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/numashadow}
dir=${dir:-/tmp/numashadow-$(id -u)}
[ -S "$dir/$dead.sock" ] || fail "SIGKILL left no socket of $dead in $dir: the next check proves nothing"
$NS stat --all >"$tmp/all" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "stat --all: exit $rc: $(cat "$tmp/err")"
head -n 1 "$tmp/all" | grep -Eq '^ *pid +command +node0 .*total$' || fail "stat --all: header $(head -n 1 "$tmp/all")"
for p in $pid $fam $child; do
	grep -Eq "^ *$p +(workload|python3) +[0-9]" "$tmp/all" || fail "stat --all: no line for $p: $(cat "$tmp/all")"
done
grep -Eq "^ *$dead " "$tmp/all" && fail "stat --all lists the killed $dead"
awk -v p=$pid '$1 == p { exit !($2 == "workload" && $3 > 0 && $3 == $NF) }' "$tmp/all" ||
	fail "stat --all: line of $pid: $(grep -E "^ *$pid " "$tmp/all")"

# The same as JSON Lines: --interval --json, --all --json.
$NS stat --pid $pid --interval 0.2 --count 2 --json >"$tmp/ivj" 2>"$tmp/err" ||
	fail "stat --interval --json: $(cat "$tmp/err")"
$NS stat --all --json >"$tmp/allj" 2>"$tmp/err" || fail "stat --all --json: $(cat "$tmp/err")"
python3 - $pid $dead "$tmp/ivj" "$tmp/allj" >"$tmp/why" 2>&1 <<'PY' || fail "stat --interval/--all --json: $(cat "$tmp/why")"
import json, sys
pid, dead = int(sys.argv[1]), int(sys.argv[2])
iv = [json.loads(l) for l in open(sys.argv[3])]
assert len(iv) == 2, iv
assert iv[0]["pid"] == pid and iv[0]["pages_per_s"] is None and iv[0]["moved_per_s"] is None, iv
assert iv[1]["time"] > iv[0]["time"] and iv[1]["moved_per_s"] is not None, iv
for x in iv:
    assert x["pages"] == sum(x["nodes"].values()) > 0, x
al = {x["pid"]: x for x in (json.loads(l) for l in open(sys.argv[4]))}
assert pid in al and dead not in al, al.keys()
assert al[pid]["command"] == "workload" and al[pid]["pages"] == sum(al[pid]["nodes"].values()) > 0, al[pid]
PY

# trace --json: the CSV's records; --summary --json: the table's numbers.
"$NS" run --trace "$tmp/t.tr" --localalloc -- "$TPROG" >/dev/null 2>&1 || fail "run --trace"
"$NS" trace --csv "$tmp/t.tr" >"$tmp/csv" || fail "trace --csv"
"$NS" trace --json "$tmp/t.tr" >"$tmp/tj" || fail "trace --json"
"$NS" trace --summary "$tmp/t.tr" >"$tmp/sum" || fail "trace --summary"
"$NS" trace --summary --json "$tmp/t.tr" >"$tmp/sj" || fail "trace --summary --json"
python3 - "$tmp/csv" "$tmp/tj" "$tmp/sum" "$tmp/sj" >"$tmp/why" 2>&1 <<'PY' || fail "trace --json: $(cat "$tmp/why")"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
recs = [json.loads(l) for l in open(sys.argv[2])]
assert len(rows) == len(recs) > 10, (len(rows), len(recs))
for r, j in zip(rows, recs):
    for k in ("time_ns", "pid", "tid", "len", "node", "aux"):
        assert int(r[k]) == j[k], (k, r, j)
    assert r["type"] == j["type"] and int(r["addr"], 16) == int(j["addr"], 16), (r, j)
    assert j["seq"] >= 1
table = [l.split() for l in open(sys.argv[3]).read().splitlines()[1:-1]]
summ = [json.loads(l) for l in open(sys.argv[4])]
assert len(summ) == len(table) >= 3, (summ, table)
for t, s in zip(table, summ):
    if t[0] == "family":
        assert s["family"] is True
    else:
        assert s["pid"] == int(t[0]) and s["parent"] == (0 if t[1] == "-" else int(t[1])), (t, s)
    assert [s["records"], s["mmaps"], s["munmaps"], s["cow"]] == [int(t[2]), int(t[3]), int(t[4]), int(t[6])], (t, s)
    placed = " ".join("%s:%d" % kv for kv in s["placed"].items()) or "-"
    assert placed == t[5], (t, s)
    assert [s["next_touch"], s["balance"], s["lost"]] == [int(x) for x in t[8:11]], (t, s)
assert summ[-1]["records"] == sum(x["records"] for x in summ[:-1]) == len(recs), summ
PY

# Answers of other shapes, from a fake server of ours (python3) serving
# the file "$tmp/answer" at each connection: a line of unknown shape is
# skipped; a known line that does not parse, an answer cut short and an
# error give one line on stderr, status 1 and nothing on stdout.
dir=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/numashadow}
dir=${dir:-/tmp/numashadow-$(id -u)}
python3 - "$dir" "$tmp/answer" >"$tmp/fake" 2>&1 <<'PY' &
import os, socket, sys
path = "%s/%d.sock" % (sys.argv[1], os.getpid())
if os.path.exists(path):
    os.unlink(path)	# a dead namesake's, as the runtime does
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o600)
s.listen(8)
print(os.getpid(), flush=True)
try:
    for _ in range(20):
        c, _ = s.accept()
        c.recv(300)
        c.sendall(open(sys.argv[2], "rb").read())
        c.close()
finally:
    os.unlink(path)
PY
fake=$!
on_exit='kill $pid $dead $fam $child $fake 2>/dev/null; wait 2>/dev/null; rm -f "$dir/$fake.sock"'
for i in $(seq 50); do [ -s "$tmp/fake" ] && break; sleep 0.1; done
[ "$(cat "$tmp/fake")" = "$fake" ] || fail "fake server: $(cat "$tmp/fake")"
printf '%s\n' "pid $fake" "0x1000-0x3000 rw-p anon node0=1 node1=1" "node 0: 1 pages" \
	"node 1: 1 pages" "future: something new" "shared pages: 1, with 2 mappings in the family" \
	"shared 0x2000 node -1: pid 7 at 0x2000, pid 8 at 0x5000" \
	"migrations: calls 1 moved 2 already 3 shared 4 not-present 5 nomem 6 not-movable 7 busy 8 other 9 passes 10 new-one 11" \
	ok >"$tmp/answer"
$NS stat --pid $fake --json >"$tmp/json" 2>"$tmp/err" || fail "stat --json, fake: $(cat "$tmp/err")"
python3 - "$tmp/json" >"$tmp/why" 2>&1 <<'PY' || fail "stat --json, fake: $(cat "$tmp/why")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["nodes"] == {"0": 1, "1": 1} and d["pages"] == 2, d
assert d["mappings"] == [{"start": "0x1000", "end": "0x3000", "perms": "rw-p", "kind": "anon", "nodes": {"0": 1, "1": 1}}], d
assert d["shared"] == [{"addr": "0x2000", "node": -1, "mappers": [{"pid": 7, "addr": "0x2000"}, {"pid": 8, "addr": "0x5000"}]}], d
assert d["migrations"] == {"calls": 1, "moved": 2, "already": 3, "shared": 4, "not_present": 5, "nomem": 6, "not_movable": 7, "busy": 8, "other": 9, "passes": 10, "new_one": 11}, d
assert (d["shared_pages"], d["shared_mappings"]) == (1, 2), d
PY
refused() {	# refused WHY: the answer in "$tmp/answer" gives one line naming WHY
	for mode in --json "--interval 1 --count 1"; do
		$NS stat --pid $fake $mode >"$tmp/out" 2>"$tmp/err"
		rc=$?
		[ $rc -eq 1 ] || fail "stat $mode, $1: exit $rc, want 1"
		[ -s "$tmp/out" ] && fail "stat $mode, $1: printed $(cat "$tmp/out")"
		[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "$1" "$tmp/err" ||
			fail "stat $mode, $1: said $(cat "$tmp/err")"
	done
}
printf '%s\n' "pid $fake" "0x1000-0x3000 rw-p anon node0=x" "node 0: 1 pages" ok >"$tmp/answer"
$NS stat --pid $fake --json >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && [ ! -s "$tmp/out" ] && grep -q "cannot read the answer's line '0x1000" "$tmp/err" ||
	fail "stat --json, a bad mapping line: $(cat "$tmp/out" "$tmp/err")"
printf '%s\n' "pid $fake" "node 0: many pages" ok >"$tmp/answer"
refused "cannot read the answer's line 'node 0: many pages'"
printf '%s\n' "pid $fake" "node 0: 1 pages" >"$tmp/answer"
refused "cut short"
printf '%s\n' "error: the process is exiting" >"$tmp/answer"
refused "pid $fake: the process is exiting"
kill $fake 2>/dev/null
wait $fake 2>/dev/null
rm -f "$dir/$fake.sock"	# SIGTERM skips its finally

# Options that do not go together.
expect2() {
	$NS "$@" >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] || fail "$*: exit $rc, want 2"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$*: not one line: $(cat "$tmp/err")"
}
expect2 trace --json --csv "$tmp/t.tr"
expect2 trace --json --svg "$tmp/x.svg" "$tmp/t.tr"
expect2 stat --pid $pid --count 3
expect2 stat --pid $pid --interval 0
expect2 stat --pid $pid --interval x
expect2 stat --pid $pid --interval 1 --count 0
expect2 stat --all --pid $pid
expect2 stat --all --interval 1
expect2 stat

[ "$fails" -eq 0 ] && echo "stat_json: ok"
finish
