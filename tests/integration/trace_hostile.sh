#!/bin/sh
# trace_hostile: `numashadow trace` on files it should not trust
# (docs/security.md).  A FIFO (nobody writing) and a directory are refused
# at once with one line, under `timeout 5`, in every output mode.  A file
# cut inside its header, of another version, of another record size, or
# with a corrupted record (pid 0; type 999; text after the header) gives
# one line on stderr, exit 1, nothing on stdout, and no SVG file.  A file
# cut inside its last record gives one line, the whole records and exit 1
# (trace and report).  A file that shrinks while it is being read
# ends the reading with one "truncated while being read" line and exit 1,
# not SIGBUS: the text output is held up on a full pipe, the file is cut,
# then the pipe is drained.  --summary of 200000 processes runs in 32 MiB
# of address space (ulimit -v; it took 1.1 KiB a process), and refuses
# past 1048576 processes in one line.  Run from the project root.
. tests/int_lib.sh
need

# gen FILE NRECS NPIDS: a valid trace, record i of pid 1 + i % NPIDS.
cat >"$tmp/gen.c" <<'C'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "numashadow_trace.h"
int main(int argc, char **argv)
{
	static const uint16_t types[] = { NS_TR_START, NS_TR_MMAP, NS_TR_FAULT,
		NS_TR_MIGRATE, NS_TR_COW, NS_TR_MUNMAP, NS_TR_EXIT };
	struct ns_trace_header h = { NS_TRACE_MAGIC, NS_TRACE_VERSION,
				     sizeof(struct ns_trace_rec) };
	FILE *f = argc == 4 ? fopen(argv[1], "w") : NULL;
	unsigned long n, np;

	if (!f)
		return 2;
	n = strtoul(argv[2], NULL, 0);
	np = strtoul(argv[3], NULL, 0);
	fwrite(&h, sizeof(h), 1, f);
	for (unsigned long i = 0; i < n; i++) {
		struct ns_trace_rec r = {
			.seq = i / np + 1, .time = 1000000000ull + i * 1000,
			.addr = 0x7f0000000000ull + (i << 12), .len = 1 << 16,
			.pid = (int32_t)(1 + i % np), .tid = (int32_t)(1 + i % np),
			.type = types[i / np % 7], .node = (int16_t)(i % 3) - 1,
			.aux = 4,
		};
		fwrite(&r, sizeof(r), 1, f);
	}
	return fclose(f) ? 1 : 0;
}
C
gcc -O2 -Iinclude -o "$tmp/gen" "$tmp/gen.c" || { echo "FAIL: cannot build the generator"; exit 1; }
"$tmp/gen" "$tmp/ok.tr" 1000 10 || { echo "FAIL: gen"; exit 1; }

# refused LABEL PATTERN ARGS...: `timeout 5 numashadow trace ARGS` exits 1
# with one line on stderr matching PATTERN and nothing on stdout.
refused() {
	label=$1 pat=$2
	shift 2
	timeout 5 "$NS" trace "$@" >"$tmp/o" 2>"$tmp/e" </dev/null
	rc=$?
	[ $rc -eq 124 ] && { fail "$label: still running after 5 s"; return; }
	[ $rc -eq 1 ] || fail "$label: exit $rc, want 1"
	[ "$(wc -l <"$tmp/e")" -eq 1 ] || fail "$label: not one line on stderr: $(cat "$tmp/e")"
	grep -q -- "^numashadow: trace: .*$pat" "$tmp/e" || fail "$label: '$(cat "$tmp/e")' lacks '$pat'"
	[ -s "$tmp/o" ] && fail "$label: wrote to stdout: $(head -c 200 "$tmp/o")"
}

# A FIFO nobody writes to, a directory: no hang, one line.
mkfifo "$tmp/fifo"
for mode in "" --csv --summary "--svg $tmp/fifo.svg"; do
	refused "FIFO ${mode:-text}" "not a regular file" $mode "$tmp/fifo"
	refused "directory ${mode:-text}" "not a regular file" $mode "$tmp"
done
[ -e "$tmp/fifo.svg" ] && fail "FIFO: an SVG file was made"

# Cut inside the header; another version; another record size.
head -c 10 "$tmp/ok.tr" >"$tmp/short.tr"
refused "cut in the header" "too short for a header" "$tmp/short.tr"
cp "$tmp/ok.tr" "$tmp/v3.tr"
printf '\3' | dd of="$tmp/v3.tr" bs=1 seek=8 conv=notrunc 2>/dev/null
refused "version 3" "version 3; this numashadow reads 2" --summary "$tmp/v3.tr"
cp "$tmp/ok.tr" "$tmp/r64.tr"
printf '\100' | dd of="$tmp/r64.tr" bs=1 seek=12 conv=notrunc 2>/dev/null
refused "64-byte records" "records of 64 bytes" --csv "$tmp/r64.tr"

# Corrupted records: the file says so, whatever the mode, before output.
cp "$tmp/ok.tr" "$tmp/pid0.tr"	# record 500's pid (offset 32) zeroed
printf '\0\0\0\0' | dd of="$tmp/pid0.tr" bs=1 seek=$((16 + 499 * 48 + 32)) conv=notrunc 2>/dev/null
cp "$tmp/ok.tr" "$tmp/type.tr"	# record 1000's type (offset 40) 999
printf '\347\3' | dd of="$tmp/type.tr" bs=1 seek=$((16 + 999 * 48 + 40)) conv=notrunc 2>/dev/null
head -c 16 "$tmp/ok.tr" >"$tmp/noise.tr"	# a header, then text
yes 'not a record at all' | head -c 4800 >>"$tmp/noise.tr"
for mode in "" --csv --summary "--svg $tmp/bad.svg"; do
	refused "pid 0, ${mode:-text}" "record 500 (at byte 23968): pid 0 is not a process id; the file is corrupted" \
		$mode "$tmp/pid0.tr"
	refused "type 999, ${mode:-text}" "record 1000 (at byte 47968): type 999 is not a record type; the file is corrupted" \
		$mode "$tmp/type.tr"
	refused "noise, ${mode:-text}" "corrupted" $mode "$tmp/noise.tr"
done
[ -e "$tmp/bad.svg" ] && fail "corrupted: an SVG file was made"

# Cut inside the last record: one line, the whole records, exit 1 - from
# trace and from report alike.
head -c $((16 + 999 * 48 + 20)) "$tmp/ok.tr" >"$tmp/cut.tr"
"$NS" trace --csv "$tmp/cut.tr" >"$tmp/o" 2>"$tmp/e"
rc=$?
[ $rc -eq 1 ] || fail "cut in a record: exit $rc, want 1"
[ "$(cat "$tmp/e")" = "numashadow: trace: $tmp/cut.tr: the last record is truncated (20 of 48 bytes); the whole records are shown, exit status 1" ] ||
	fail "cut in a record: said '$(cat "$tmp/e")'"
[ "$(wc -l <"$tmp/o")" -eq 1000 ] || fail "cut in a record: $(wc -l <"$tmp/o") lines, want 999 and the header"
"$NS" report --format json "$tmp/cut.tr" >"$tmp/o" 2>"$tmp/e"
rc=$?
[ $rc -eq 1 ] || fail "report of a cut record: exit $rc, want 1"
[ "$(wc -l <"$tmp/e")" -eq 1 ] && grep -q "the last record is truncated" "$tmp/e" ||
	fail "report of a cut record: said '$(cat "$tmp/e")'"
[ -s "$tmp/o" ] || fail "report of a cut record: no report of the whole records"

# Shrinking while read: the text of 100000 records (about 9 MB) stops on a
# full pipe long before the end; the file is cut to 10 records; the rest
# must end in one line, not SIGBUS.
"$tmp/gen" "$tmp/big.tr" 100000 4 || { echo "FAIL: gen"; exit 1; }
mkfifo "$tmp/pipe"
"$NS" trace "$tmp/big.tr" >"$tmp/pipe" 2>"$tmp/e" &
reader=$!
on_exit='kill $reader 2>/dev/null'
exec 3<"$tmp/pipe"	# opened: the writer runs until the pipe is full
blocked=""
for i in $(seq 100); do
	# Asleep in write(2) on the pipe: the only place it waits.
	if [ "$(cat /proc/$reader/comm 2>/dev/null)" = numashadow ] &&
	   [ "$(awk '{ print $3 }' /proc/$reader/stat 2>/dev/null)" = S ]; then
		blocked=1
		break
	fi
	sleep 0.05
done
if [ -z "$blocked" ]; then
	exec 3<&-
	echo "SKIP: the reader never waited on the full pipe"
	exit 77
fi
truncate -s $((16 + 10 * 48)) "$tmp/big.tr"
cat <&3 >"$tmp/o"
exec 3<&-
wait $reader
rc=$?
[ $rc -eq 1 ] || fail "shrunk while read: exit $rc, want 1 (135 is SIGBUS)"
[ "$(wc -l <"$tmp/e")" -eq 1 ] && grep -q "truncated while being read: it held 100000 records, it ends after " "$tmp/e" ||
	fail "shrunk while read: said '$(cat "$tmp/e")'"
n=$(wc -l <"$tmp/o")
[ "$n" -gt 100 ] && [ "$n" -lt 100000 ] || fail "shrunk while read: $n lines shown"

# --summary's memory follows the processes, not 1.1 KiB each.
"$tmp/gen" "$tmp/many.tr" 200000 200000 || { echo "FAIL: gen"; exit 1; }
(ulimit -v 32768; "$NS" trace --summary "$tmp/many.tr" >"$tmp/o" 2>"$tmp/e")
rc=$?
[ $rc -eq 0 ] || fail "--summary of 200000 processes in 32 MiB: exit $rc: $(cat "$tmp/e")"
[ "$(wc -l <"$tmp/o")" -eq 200003 ] || fail "--summary of 200000 processes: $(wc -l <"$tmp/o") lines"
rm -f "$tmp/many.tr"
"$tmp/gen" "$tmp/cap.tr" 1048577 1048577 || { echo "FAIL: gen"; exit 1; }
before=$fails
(ulimit -v 262144; refused "--summary of 1048577 processes" \
	"more than 1048576 processes; --summary keeps at most 1048576 (--csv has every record)" \
	--summary "$tmp/cap.tr"; [ $fails -eq $before ]) || fails=$((fails + 1))
rm -f "$tmp/cap.tr"

[ "$fails" -eq 0 ] && echo "trace_hostile: ok"
finish
