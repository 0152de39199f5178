#!/bin/sh
# report_numbers: every number of `numashadow report`, worked out by hand.
# A trace made here (made_trace in tests/report_lib.sh: 16 pages mapped,
# 8 placed on node 0, 8 on node 1, 2 outside any mapping by the kernel's
# choice; next-touch and balance moves with page 0 returning twice; two
# migrate calls, one moving nothing; a LOST record of 3 and a gap of 2 in
# record numbers): the JSON's pages placed, run time, migrate calls and
# pages by reason and node, pages and bytes moved, lost records by cause,
# the top mapping's pages placed and migrated, pages placed outside any
# mapping, and the ping-pong page (pid, address, returns, node now) are
# each as worked out; the text report says the same in its lines.  Run
# from the project root.
. tests/report_lib.sh
made_trace "$tmp/k.tr"

"$NS" report --format json "$tmp/k.tr" >"$tmp/k.json" 2>"$tmp/err" ||
	fail "report of the made trace: $(cat "$tmp/err")"
got=$(python3 -c '
import json, sys
j = json.load(sys.stdin)
m, mp, pp = j["migrations"], j["mappings"], j["ping_pong"]
print(j["placed"], j["run_time_ns"], m["migrate"]["calls"], m["migrate"]["calls_moved_none"],
      m["migrate"]["range_pages"], m["migrate"]["by_node"], m["next_touch"]["by_node"],
      m["balance"]["by_node"], j["pages_moved"], j["bytes_moved"], j["lost"],
      mp["top_placed"][0]["placed"], mp["top_placed"][0]["migrated"],
      mp["unattributed_placed"], mp["top_migrated"][0]["addr"],
      pp["pages"], pp["returns"], pp["top"])' <"$tmp/k.json" 2>&1)
want="{'0': 8, '1': 8, 'kernel': 2} 12000 2 1 20 {'1': 5} {'0': 1, '1': 1} {'1': 2} 9 36864"
want="$want {'total': 5, 'lost_records': 1, 'in_lost_records': 3, 'in_seq_gaps': 2}"
want="$want {'0': 8, '1': 8} 9 2 0x10000000 1 2 [{'pid': 100, 'addr': '0x10000000', 'returns': 2, 'node': 1}]"
[ "$got" = "$want" ] || fail "report of the made trace: '$got', want '$want'"

"$NS" report "$tmp/k.tr" >"$tmp/k.txt" 2>"$tmp/err" || fail "report (text) of the made trace: $(cat "$tmp/err")"
has_lines "report (text) of the made trace" "$tmp/k.txt" \
	"pages placed: 0:8 1:8 kernel:2 (total 18;" "pages moved: 9 (36864 bytes)" \
	"lost records: 5 (3 said by 1 lost records, 2 gaps" \
	"  migrate     2 calls (1 moved nothing), 20 pages in their ranges, 5 pages moved, by target node: 1:5" \
	"  pid 100 0x10000000: 2 returns, now on node 1" \
	"  outside recorded mappings: 2 placed, 0 migrated"

[ $fails -eq 0 ] && echo "report_numbers: ok"
finish
