#!/bin/sh
# report_html: `numashadow report --format html` rendered by a real
# browser.  build/tests/progs/report_prog runs under --interleave=all with
# --trace; its report as HTML is one self-contained page (no script, no
# link, nothing fetched) holding the text report's tables.  Headless
# Chromium (Debian's chromium, from make deps; missing is a failure, not a
# skip) loads a copy with a few lines of script appended that note each
# chart's box after layout, dumps the DOM and takes a screenshot, in one
# start: each chart (pages per node over time, the time x address heatmap,
# the per-mapping and per-call-site bars, the latency histogram) is there
# with its marks (report_prog's two call sites and two migrate calls
# give the last two theirs), and its part of the screenshot is not blank
# (it has coloured pixels, the data's; axes and text are grey).  Run from
# the project root.
. tests/int_lib.sh
PROG=$(pwd)/build/tests/progs/report_prog
need "$PROG"
command -v python3 >/dev/null || { echo "FAIL: no python3 (make deps)"; exit 1; }
BROWSER=$(command -v chromium || command -v chromium-browser)
[ -n "$BROWSER" ] || { echo "FAIL: no chromium: run make deps"; exit 1; }

"$NS" run --trace "$tmp/t.tr" --interleave=all -- "$PROG" >"$tmp/out" 2>"$tmp/err" ||
	{ echo "FAIL: run --trace: exit $?: $(cat "$tmp/err")"; exit 1; }
"$NS" report --format html -o "$tmp/r.html" "$tmp/t.tr" 2>"$tmp/err" ||
	{ echo "FAIL: report --format html: exit $?: $(cat "$tmp/err")"; exit 1; }
[ -s "$tmp/err" ] && fail "report --format html: said '$(cat "$tmp/err")'"
"$NS" report --format html "$tmp/t.tr" | cmp -s - "$tmp/r.html" ||
	fail "report --format html: stdout and -o differ"

# Self-contained: nothing to fetch, nothing to run.
grep -qi '<script\|<link\|<img\|<iframe\| src=\|url(\|@import' "$tmp/r.html" &&
	fail "the page refers to something outside it: $(grep -i '<script\|<link\| src=\|url(\|@import' "$tmp/r.html" | head -3)"
grep -o 'https\?://[^"]*' "$tmp/r.html" | grep -qv '^http://www.w3.org/2000/svg$' &&
	fail "the page names a URL other than the SVG namespace"
# The text report's tables, with its numbers.
"$NS" report "$tmp/t.tr" >"$tmp/txt"
placed=$(sed -n 's/^pages placed: \(.*\) (total .*/\1/p' "$tmp/txt")
for id in summary migrations failed latency sites-placed sites-migrated top-placed \
	top-migrated ping-pong; do
	grep -q "<table id=\"$id\">" "$tmp/r.html" || fail "no table '$id'"
done
grep -q "<tr><th>pages placed</th><td>$placed</td></tr>" "$tmp/r.html" ||
	fail "the summary table lacks pages placed '$placed'"
for fn in alloc_table alloc_buffer; do
	grep -q "<tr><td>$fn (report_prog+0x[0-9a-f]*, report_prog.c:[0-9]*)</td>" "$tmp/r.html" ||
		fail "the call site table lacks $fn"
done

# The browser: the page as it is, plus a script that writes each chart's
# box (CSS pixels, page coordinates) into a data attribute after layout.
cp "$tmp/r.html" "$tmp/page.html"
cat >>"$tmp/page.html" <<'EOF'
<script>
for (const s of document.querySelectorAll('svg.chart')) {
	const r = s.getBoundingClientRect();
	s.setAttribute('data-box', [r.left + scrollX, r.top + scrollY, r.width, r.height]
		.map(Math.round).join(','));
}
document.body.setAttribute('data-height', document.documentElement.scrollHeight);
</script>
EOF
# One start: --dump-dom after the load, then the screenshot.  Scale 0.5
# keeps the PNG small enough to read in Python quickly.
timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars \
	--no-first-run --user-data-dir="$tmp/profile" --force-device-scale-factor=0.5 \
	--window-size=1000,4000 --screenshot="$tmp/shot.png" --dump-dom \
	"file://$tmp/page.html" >"$tmp/dom.html" 2>"$tmp/browser.err"
rc=$?
[ $rc -eq 0 ] && [ -s "$tmp/dom.html" ] && [ -s "$tmp/shot.png" ] ||
	{ echo "FAIL: $BROWSER: exit $rc: $(tail -n 3 "$tmp/browser.err")"; exit 1; }

python3 - "$tmp/dom.html" "$tmp/shot.png" >"$tmp/check" 2>&1 <<'PY'
import html.parser, struct, sys, zlib

CHARTS = ["chart-timeline", "chart-heatmap", "chart-mappings", "chart-sites",
          "chart-latency"]
SCALE = 0.5

class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts, self.cur, self.height = {}, None, 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body" and "data-height" in a:
            self.height = int(a["data-height"])
        if tag == "svg" and "chart" in (a.get("class") or "").split():
            self.cur = a.get("id")
            self.charts[self.cur] = {"box": a.get("data-box"), "marks": 0}
        elif self.cur and "mark" in (a.get("class") or "").split():
            self.charts[self.cur]["marks"] += 1
    def handle_endtag(self, tag):
        if tag == "svg":
            self.cur = None

def png_rows(path, last):
    """RGB(A) rows 0..last of an 8-bit PNG, unfiltered."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6), "PNG of depth %d type %d" % (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(min(h, last + 1)):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows

d = Dom()
d.feed(open(sys.argv[1]).read())
bad, boxes = [], {}
for c in CHARTS:
    if c not in d.charts:
        bad.append("%s: not in the page" % c)
    elif not d.charts[c]["marks"]:
        bad.append("%s: no marks" % c)
    elif not d.charts[c]["box"]:
        bad.append("%s: no box after layout" % c)
    else:
        boxes[c] = [int(v) for v in d.charts[c]["box"].split(",")]
last = max((int((y + h) * SCALE) for x, y, w, h in boxes.values()), default=0)
w, h, bpp, rows = png_rows(sys.argv[2], last)
if d.height * SCALE > h + 2:
    bad.append("the page (%d px) is longer than the screenshot (%d)" % (d.height, h / SCALE))
for c, (x, y, bw, bh) in boxes.items():
    x0, y0, x1, y1 = (int(v * SCALE) for v in (x, y, x + bw, y + bh))
    if bw < 100 or bh < 40 or y1 > len(rows) or x1 > w:
        bad.append("%s: box %s outside the screenshot or too small" % (c, (x, y, bw, bh)))
        continue
    colours, coloured = set(), 0
    for r in rows[y0:y1]:
        for i in range(x0, x1):
            p = tuple(r[i * bpp:i * bpp + 3])
            colours.add(p)
            coloured += max(p) - min(p) > 40	# not white, grey or black
    print("%s: %d marks, box %s, %d colours, %d coloured pixels"
          % (c, d.charts[c]["marks"], (x, y, bw, bh), len(colours), coloured))
    if len(colours) < 3 or coloured < 20:
        bad.append("%s: blank in the screenshot (%d colours, %d coloured pixels)"
                   % (c, len(colours), coloured))
for b in bad:
    print("BAD:", b)
sys.exit(1 if bad else 0)
PY
[ $? -eq 0 ] || fail "the rendered page: $(grep BAD "$tmp/check" || cat "$tmp/check")"

finish
