#!/bin/sh
# report_objects: call sites whose objects cannot be read here are said so,
# not misnamed.  A trace made here (sites_trace in tests/report_lib.sh):
# site 1's frames are in a file that does not exist and in report_prog
# recorded with a build id of zeros, site 2's object has its path cut (a
# BYTES record missing), a fork child places 2 pages at its parent's site
# 1.  The JSON report names 2 sites with 4 pages placed at no known site;
# site 1 has its own and the child's pages (0:8 1:2), site 2 its 4 on
# node 1, neither a function; the three frames' statuses say the object is
# missing, its build id differs, its name was not recorded whole.  The
# text report's lines for both sites and the call-site count say the same.
# Run from the project root.
. tests/report_lib.sh
sites_trace "$tmp/v.tr"

"$NS" report --format json "$tmp/v.tr" >"$tmp/v.json" 2>"$tmp/err" || fail "report of the sites trace: $(cat "$tmp/err")"
got=$(python3 -c '
import json, sys
c = json.load(sys.stdin)["call_sites"]
print(c["named"], c["unknown_placed"], [(s["id"], s["placed"], s["function"]) for s in c["top_placed"]],
      [x["status"] for s in c["top_placed"] for x in s["frames"]])' <"$tmp/v.json" 2>&1)
want="2 4 [(1, {'0': 8, '1': 2}, None), (2, {'1': 4}, None)] ['the object is missing on this machine',"
want="$want 'the build id of the file on this machine differs', 'its name was not recorded whole: records lost']"
[ "$got" = "$want" ] || fail "report of the sites trace: '$got', want '$want'"

"$NS" report "$tmp/v.tr" >"$tmp/v.txt" 2>"$tmp/err" || fail "report (text) of the sites trace: $(cat "$tmp/err")"
has_lines "report (text) of the sites trace" "$tmp/v.txt" \
	"  libgone.so+0x1234 (the object is missing on this machine), pid 100: 10 placed (0:8 1:2), 0 migrated" \
	"  object 3+0x1000 (its name was not recorded whole: records lost), pid 100: 4 placed (1:4)" \
	"call sites: 2 named (distinct stacks of the mmap calls a policy placed); pages placed at no known site: 4"

[ $fails -eq 0 ] && echo "report_objects: ok"
finish
