#!/bin/sh
# stat_json_family: `numashadow stat --pid P --json` of a forked family.
# python3 run with --ctl forks and both sleep: the parent's JSON answer
# agrees with its text answer (as in stat_json.sh), and it has shared
# pages, each listed at an address with node 0 and with exactly the
# parent and the child as its mappers.  Needs python3.  Run from the
# project root.
. tests/stat_lib.sh
ctl_family

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

[ "$fails" -eq 0 ] && echo "stat_json_family: ok"
finish
