#!/bin/sh
# stat_answers: `numashadow stat` reading answers of other shapes, from a
# fake server of ours (python3) serving the file "$tmp/answer" at each
# connection.  A line of unknown shape is skipped and a migration counter
# of a new name kept: --json holds the rest (pages per node, the mapping,
# the shared page and its mappers, every counter).  A known line that
# does not parse (a mapping line, a node line), an answer cut short and
# an error answer each give one line on stderr naming why, status 1 and
# nothing on stdout, with --json and with --interval.  Needs python3.
# Run from the project root.
. tests/stat_lib.sh
mkdir -m 700 "$dir"	# the runtime makes it; here no runtime runs

python3 - "$dir" "$tmp/answer" >"$tmp/fake" 2>&1 <<'PY' &
import os, socket, sys
path = "%s/%d.sock" % (sys.argv[1], os.getpid())
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o600)
s.listen(8)
print(os.getpid(), flush=True)
for _ in range(20):
    c, _ = s.accept()
    c.recv(300)
    c.sendall(open(sys.argv[2], "rb").read())
    c.close()
PY
fake=$!
pids="$pids $fake"
for i in $(seq 50); do [ -s "$tmp/fake" ] && break; sleep 0.1; done
[ "$(cat "$tmp/fake")" = "$fake" ] || { echo "FAIL: fake server: $(cat "$tmp/fake")"; exit 1; }

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

# WHY its one line names|MODES of stat (split at ','; --json only where
# --interval reads no such line)|the answer's lines (split at ';')
rows=0
while IFS='|' read -r why modes answer; do
	printf '%s\n' "$answer" | tr ';' '\n' >"$tmp/answer"
	old_ifs=$IFS IFS=,
	for mode in $modes; do
		IFS=$old_ifs
		$NS stat --pid $fake $mode >"$tmp/out" 2>"$tmp/err" </dev/null
		rc=$?
		[ $rc -eq 1 ] || fail "stat $mode, $why: exit $rc, want 1"
		[ -s "$tmp/out" ] && fail "stat $mode, $why: printed $(cat "$tmp/out")"
		[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "$why" "$tmp/err" ||
			fail "stat $mode, $why: said $(cat "$tmp/err")"
	done
	IFS=$old_ifs
	rows=$((rows + 1))
done <<TABLE
cannot read the answer's line '0x1000|--json|pid $fake;0x1000-0x3000 rw-p anon node0=x;node 0: 1 pages;ok
cannot read the answer's line 'node 0: many pages'|--json,--interval 1 --count 1|pid $fake;node 0: many pages;ok
cut short|--json,--interval 1 --count 1|pid $fake;node 0: 1 pages
pid $fake: the process is exiting|--json,--interval 1 --count 1|error: the process is exiting
TABLE
[ $rows -eq 4 ] || fail "ran $rows of the 4 refused answers"

[ "$fails" -eq 0 ] && echo "stat_answers: ok"
finish
