#!/bin/sh
# report_shared: the mappings a family shares, from a real run.
# build/tests/progs/report_prog maps a table (48 pages) and a buffer (16)
# and forks a child that shares both regions whole with it at its exit:
# the JSON report's two top shared mappings are the table and the buffer,
# at the addresses the program printed, each the parent's (not the
# child's) and mapped by exactly the parent and the child with all their
# pages.  The text report has the table's line: its pid, range, size,
# pages shared and the two mappers with 48 pages each.  Run from the
# project root.
. tests/report_lib.sh
sites_run

got=$(python3 - "$tmp/s.json" "$tmp/s.out" <<'PY' 2>&1
import json, sys
j = json.load(open(sys.argv[1]))
lines = [l.split() for l in open(sys.argv[2])]
addr = {l[1]: int(l[2], 16) for l in lines if l[0] == "site"}
child = [int(l[1]) for l in lines if l[0] == "fork"][0]
out = []
for m in j["mappings"]["top_shared"][:2]:
    name = [k for k, v in addr.items() if v == int(m["addr"], 16)]
    mappers = sorted((x["pid"], x["pages"]) for x in m["mappers"])
    want = sorted([(m["pid"], m["shared"]), (child, m["shared"])])
    out.append("%s:%d:%s" % (name[0] if name else m["addr"], m["shared"],
               "ok" if mappers == want and m["pid"] != child else json.dumps(m)))
print(" ".join(out))
PY
)
want="alloc_table:48:ok alloc_buffer:16:ok"
[ "$got" = "$want" ] || fail "shared mappings of report_prog: '$got', want '$want'"
grep -q "^  pid [0-9]* 0x[0-9a-f]*-0x[0-9a-f]* (196608 bytes): 48 pages shared; mappers: pid [0-9]* (48), pid [0-9]* (48)$" "$tmp/s.txt" ||
	fail "report (text) of report_prog, shared mappings: $(cat "$tmp/s.txt")"

[ $fails -eq 0 ] && echo "report_shared: ok"
finish
