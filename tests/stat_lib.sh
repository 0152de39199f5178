# tests/stat_lib.sh - sourced (after nothing else) by the stat_*.sh tests
# in tests/integration/, run from the project root: int_lib.sh, python3,
# a control directory of the test's own, and processes started with --ctl
# that the test asks, killed at its exit.
. tests/int_lib.sh
PROG=build/tests/progs/workload
need $PROG
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

# The sockets in a directory of this test's own (the runtime and the
# client both look in $XDG_RUNTIME_DIR/numashadow): `stat --all` sees no
# other test's processes, and a fake server's socket goes with $tmp.
XDG_RUNTIME_DIR=$tmp/xdg
export XDG_RUNTIME_DIR
mkdir -m 700 "$XDG_RUNTIME_DIR"
dir=$XDG_RUNTIME_DIR/numashadow
pids=
on_exit='kill $pids 2>/dev/null; wait 2>/dev/null'

# wait_ctl PID: until the process answers stat.
wait_ctl() {
	for i in $(seq 100); do
		$NS stat --pid "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "pid $1 never answered stat"
	return 1
}

# ctl_workload SIZE_MIB SECONDS: build/tests/progs/workload under --ctl in
# the background; its pid in $ctl_pid once it answers stat.
ctl_workload() {
	$NS run --ctl -- $PROG "$1" "$2" >/dev/null 2>&1 &
	ctl_pid=$!
	pids="$pids $ctl_pid"
	wait_ctl $ctl_pid
}

# ctl_family: python3 under --ctl forks and both sleep 30 s, sharing their
# pages; the parent's pid in $fam and the child's in $child once both
# answer stat.
ctl_family() {
	$NS run --ctl -- python3 -c 'import os, time; print(os.fork(), flush=True); time.sleep(30)' \
		>"$tmp/fam" 2>/dev/null &
	fam=$!
	pids="$pids $fam"
	for i in $(seq 100); do [ "$(grep -c . "$tmp/fam")" -ge 2 ] && break; sleep 0.1; done
	child=$(grep -v '^0$' "$tmp/fam")
	pids="$pids $child"
	wait_ctl $fam && wait_ctl "$child"
}

# check_json PID: `stat --pid PID --json` is one line of valid JSON, said
# with nothing on stderr, that agrees with the text answer (pid, pages per
# node and their total, every migration counter, each mapping's range,
# perms, kind and pages per node, the shared pages); the JSON is left in
# $tmp/json.  Each is asked three times at most: a page may come or go
# between two requests.
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
