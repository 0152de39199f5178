#!/bin/sh
# report_summary: `numashadow report` of a real run says what `trace
# --summary` says.  build/tests/progs/trace_prog runs under
# --interleave=all with --trace: the text report's pages placed per node
# are the family row of `trace --summary --json` (and there are some), it
# has each of its sections, and the 64-page region the program printed
# is the top mapping by pages placed.  `--format json` is one line of
# valid JSON holding the same numbers: pages per node and their total,
# the family's records, 2 processes, nothing lost, no migrate calls, the
# top call site's pages the total, the top mapping the 64-page region.
# Run from the project root.
. tests/report_lib.sh
traced_run
"$NS" trace --summary "$tmp/t.tr" >"$tmp/sum" 2>"$tmp/err" ||
	{ echo "FAIL: trace --summary: $(cat "$tmp/err")"; exit 1; }

# Pages placed per node: the family's of `trace --summary --json` (the
# table's column holds spaces when there are several nodes).
want=$("$NS" trace --summary --json "$tmp/t.tr" | python3 -c '
import json, sys
for line in sys.stdin:
    j = json.loads(line)
    if j.get("family"):
        print(" ".join("%s:%d" % kv for kv in j["placed"].items()))')
got=$(sed -n 's/^pages placed: \(.*\) (total .*/\1/p' "$tmp/txt")
[ -n "$want" ] && [ "$got" = "$want" ] ||
	fail "report: pages placed '$got', trace --summary says '$want'"
case $want in *:*) ;; *) fail "trace --summary placed no pages: $(cat "$tmp/sum")" ;; esac
for line in "run time: " "migration latency: 0 migrate calls" "lost records: 0 " \
	"call sites: " "top call sites by pages placed:" "  map (trace_prog+0x" \
	"  failed:     0 pages" "top mappings by pages placed:" \
	"top mappings by pages migrated:" "ping-pong pages"; do
	grep -q "^$line" "$tmp/txt" || fail "report: no line '$line': $(cat "$tmp/txt")"
done
region=$(awk '$1 == "present" { print $3 }' "$tmp/out")
grep -A1 '^top mappings by pages placed:' "$tmp/txt" | grep -q " $region-" ||
	fail "report: the 64-page region $region is not the top mapping: $(cat "$tmp/txt")"

# The JSON: one object, the text's numbers.
"$NS" report --format json "$tmp/t.tr" >"$tmp/json" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "report --format json: exit $rc: $(cat "$tmp/err")"
python3 -c 'import json,sys; json.load(sys.stdin)' <"$tmp/json" ||
	fail "report --format json: does not parse: $(cat "$tmp/json")"
[ "$(wc -l <"$tmp/json")" -eq 1 ] || fail "report --format json: not one line"
got=$(python3 -c '
import json, sys
j = json.load(sys.stdin)
print(" ".join("%s:%d" % kv for kv in j["placed"].items()), j["placed_total"],
      j["records"], j["processes"], j["lost"]["total"], j["latency_ns"]["calls"],
      j["call_sites"]["top_placed"][0]["placed_total"],
      j["mappings"]["top_placed"][0]["addr"])' <"$tmp/json")
tot=$(sed -n 's/^pages placed: .* (total \([0-9]*\);.*/\1/p' "$tmp/txt")
recs=$(awk '$1 == "family" { print $3 }' "$tmp/sum")
[ "$got" = "$want $tot $recs 2 0 0 $tot $region" ] ||
	fail "report --format json: '$got', want '$want $tot $recs 2 0 0 $tot $region'"

[ $fails -eq 0 ] && echo "report_summary: ok"
finish
