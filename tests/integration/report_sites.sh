#!/bin/sh
# report_sites: the call sites of a real run, symbolized.
# build/tests/progs/report_prog has two allocation functions placing 48
# and 16 pages, each region migrated once.  The JSON report's top call
# sites are alloc_table (48) and alloc_buffer (16), in that order, each
# with its pages by node adding up (all on node 0 on a one-node host) and
# its naming frame in report_prog with a build id, no status and a
# report_prog.c:LINE from its debug info; 2 sites named, 2 migrate calls
# with 2 durations whose p50 <= p90 <= p99 <= max (p50 above 0), no page
# failed.  The text report has a line per site (object+offset, file:line,
# pid, pages placed and per node) and the latency line.  Run from the
# project root.
. tests/report_lib.sh
sites_run

got=$(python3 - "$tmp/s.json" "$nodes" "$SITES" <<'PY' 2>&1
import json, sys
j, nodes, prog = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
out = []
for s in j["call_sites"]["top_placed"]:
    f = s["frames"][s["name_frame"]]
    ok = (sum(s["placed"].values()) == s["placed_total"] and f["object"] == prog and
          f["build_id"] and f["status"] is None and
          (f["file_line"] or "").split("/")[-1].startswith("report_prog.c:") and
          (nodes != 1 or list(s["placed"]) == ["0"]))
    out.append("%s:%d:%s" % (s["function"], s["placed_total"], "ok" if ok else json.dumps(s)))
lat = j["latency_ns"]
out.append("named %d latency %d %d %s failed %d" % (j["call_sites"]["named"], lat["calls"],
           lat["samples"], 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"],
           j["migrations"]["failed"]["pages"]))
print(" ".join(out))
PY
)
want="alloc_table:48:ok alloc_buffer:16:ok named 2 latency 2 2 True failed 0"
[ "$got" = "$want" ] || fail "report of report_prog: '$got', want '$want'"

[ "$nodes" -eq 1 ] && per="(0:48)" || per="("
grep -q "^  alloc_table (report_prog+0x[0-9a-f]*, report_prog.c:[0-9]*), pid [0-9]*: 48 placed $per" "$tmp/s.txt" &&
grep -q "^  alloc_buffer (report_prog+0x[0-9a-f]*, report_prog.c:[0-9]*), pid [0-9]*: 16 placed" "$tmp/s.txt" &&
grep -q "^migration latency: 2 migrate calls, p50 [0-9.]* us, p90 .*, max [0-9.]* us" "$tmp/s.txt" ||
	fail "report (text) of report_prog: $(cat "$tmp/s.txt")"

[ $fails -eq 0 ] && echo "report_sites: ok"
finish
