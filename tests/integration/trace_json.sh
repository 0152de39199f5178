#!/bin/sh
# trace_json: `numashadow trace --json`, what scripts read.  Of a run of
# build/tests/progs/trace_prog under --localalloc with --trace, `trace
# --json` has one JSON object per row of `trace --csv` (more than 10),
# in the same order, with the same time, pid, tid, type, address,
# length, node and aux, and a seq from 1.  `trace --summary --json` has
# an object per row of the `trace --summary` table (3 at least), in order:
# each process's pid and parent, the family's marked so, each with the
# table's records, mmaps, munmaps, pages placed per node, cow, next-touch,
# balance and lost numbers; the family's records are the processes' sum
# and the number of records.  --json with --csv or --svg is a usage error
# (one line naming them, status 2, nothing on stdout).  Needs python3.
# Run from the project root.
. tests/int_lib.sh
TPROG=$(pwd)/build/tests/progs/trace_prog
need "$TPROG"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

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

pat="--json goes with the records or --summary, not --csv or --svg"
expect_fail 2 "trace --json --csv" "$pat" "$NS" trace --json --csv "$tmp/t.tr"
expect_fail 2 "trace --json --svg" "$pat" "$NS" trace --json --svg "$tmp/x.svg" "$tmp/t.tr"
[ -e "$tmp/x.svg" ] && fail "trace --json --svg: wrote $tmp/x.svg"

[ "$fails" -eq 0 ] && echo "trace_json: ok"
finish
