#!/bin/sh
# debian_programs: real programs from the distribution behave the same under
# `numashadow run --verify`.  Each case runs twice in the same fresh
# directory, once plain and once under the runtime: python3 running a script
# that forks, uses threads, multiprocessing and mmap; git init/add/commit/
# log/gc/fsck with a fixed author and fixed dates (so the hashes are fixed);
# gcc compiling a small C file that is then run (the two binaries must be
# identical too); sqlite3 running SQL on a WAL database read through mmap.
# Both runs must exit 0 with identical stdout, no `numashadow: verify:` line
# and, apart from lines starting `numashadow:`, identical stderr.  A missing
# program is a failure, not a skip: `make deps` installs them.
# Run from the project root; NS_KEEP_TMP=1 keeps the outputs for a look.
. tests/int_lib.sh

for prog in /usr/bin/python3 /usr/bin/git /usr/bin/gcc /usr/bin/sqlite3; do
	[ -x "$prog" ] || fail "$prog is not installed (make deps installs it)"
done
[ -x "$NS" ] || fail "$NS not built"
[ "$fails" -eq 0 ] || exit 1

# One environment for both runs: nothing from the caller's git or locale.
plain_env() {
	env -u LD_PRELOAD -u NUMASHADOW_VERIFY -u NUMASHADOW_LOG \
	    -u NUMASHADOW_TEST_CORRUPT \
	    HOME="$tmp/home" LC_ALL=C TZ=UTC GIT_CONFIG_NOSYSTEM=1 \
	    GIT_AUTHOR_NAME="Ada Tester" GIT_AUTHOR_EMAIL=ada@example.org \
	    GIT_COMMITTER_NAME="Ada Tester" GIT_COMMITTER_EMAIL=ada@example.org \
	    GIT_AUTHOR_DATE="2024-01-02T03:04:05+00:00" \
	    GIT_COMMITTER_DATE="2024-01-02T03:04:05+00:00" "$@"
}

# compare NAME SCRIPT: run `sh -c SCRIPT` in $tmp/work, plain then under
# the runtime, and compare what they did.
compare() {
	name=$1
	script=$2
	for mode in plain ns; do
		rm -rf "$tmp/work" "$tmp/home"
		mkdir -p "$tmp/work" "$tmp/home"
		if [ "$mode" = plain ]; then
			(cd "$tmp/work" && plain_env sh -c "$script") \
				>"$tmp/$name.$mode.out" 2>"$tmp/$name.$mode.err"
		else
			(cd "$tmp/work" && plain_env "$NS" run --verify -- sh -c "$script") \
				>"$tmp/$name.$mode.out" 2>"$tmp/$name.$mode.err"
		fi
		echo $? >"$tmp/$name.$mode.rc"
		[ -f "$tmp/work/keep" ] && cp "$tmp/work/keep" "$tmp/$name.$mode.keep"
	done
	for mode in plain ns; do
		rc=$(cat "$tmp/$name.$mode.rc")
		if [ "$rc" != 0 ]; then
			fail "$name ($mode): exit $rc"
			sed 's/^/    /' "$tmp/$name.$mode.err" | tail -n 20
		fi
	done
	if ! cmp -s "$tmp/$name.plain.out" "$tmp/$name.ns.out"; then
		fail "$name: stdout differs (plain vs numashadow)"
		diff "$tmp/$name.plain.out" "$tmp/$name.ns.out" | head -n 20 | sed 's/^/    /'
	fi
	if grep -a -q '^numashadow: verify:' "$tmp/$name.ns.err"; then
		fail "$name: verify found differences"
		grep -a '^numashadow:' "$tmp/$name.ns.err" | head -n 20 | sed 's/^/    /'
	fi
	grep -a -v '^numashadow:' "$tmp/$name.ns.err" >"$tmp/$name.ns.err.own"
	if ! cmp -s "$tmp/$name.plain.err" "$tmp/$name.ns.err.own"; then
		fail "$name: stderr differs (plain vs numashadow)"
		diff "$tmp/$name.plain.err" "$tmp/$name.ns.err.own" | head -n 20 | sed 's/^/    /'
	fi
	if [ -f "$tmp/$name.plain.keep" ] &&
	   ! cmp -s "$tmp/$name.plain.keep" "$tmp/$name.ns.keep"; then
		fail "$name: the file it made differs (plain vs numashadow)"
	fi
	lines=$(wc -l <"$tmp/$name.plain.out")
	echo "$name: $lines lines compared"
	[ "$lines" -gt 0 ] || fail "$name: no output at all"
}

cat >"$tmp/family.py" <<'EOF'
import hashlib, mmap, multiprocessing, os, threading

def digest(i):
    buf = bytearray(1 << 20)
    for j in range(0, len(buf), 4096):
        buf[j] = (i + j // 4096) & 255
    return hashlib.sha256(buf).hexdigest()

results = {}
def worker(i):
    results[i] = digest(i)

threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for i in sorted(results):
    print("thread", i, results[i])

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    junk = [bytes([k & 255]) * 1000 for k in range(20000)]
    os.write(w, hashlib.sha256(b"".join(junk)).hexdigest().encode())
    os._exit(7)
os.close(w)
print("child said", os.read(r, 64).decode())
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status))

with multiprocessing.get_context("fork").Pool(2) as pool:
    print("pool", pool.map(digest, range(4))[3])

m = mmap.mmap(-1, 1 << 20)
m[4096:4101] = b"hello"
print("mmap", bytes(m[4096:4101]), len(m))
m.close()
big = [str(k) * 10 for k in range(200000)]
print("list", len(big), big[-1][:12])
EOF

compare python "/usr/bin/python3 $tmp/family.py"

compare git '
set -e
git init -q -b main repo
cd repo
seq 1 2000 >numbers.txt
printf "alpha\nbeta\n" >words.txt
git add numbers.txt words.txt
git commit -q -m "first commit"
seq 1000 3000 >numbers.txt
echo gamma >>words.txt
git commit -q -a -m "second commit"
git log --format="%H %an <%ae> %ad %s" --date=iso-strict
git show --stat --format=%T HEAD
git gc -q
git fsck --no-progress 2>&1
git count-objects -v | grep -v size
git cat-file -p HEAD:words.txt
'

cat >"$tmp/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
	unsigned long sum = 0;
	for (int round = 0; round < 8; round++) {
		size_t n = (size_t)1 << (12 + 2 * round);
		unsigned char *p = malloc(n);
		if (!p)
			return 1;
		memset(p, round + 1, n);
		for (size_t i = 0; i < n; i += 4096)
			sum += p[i];
		free(p);
	}
	printf("sum %lu\n", sum);
	return 0;
}
EOF

compare gcc "
set -e
cp $tmp/prog.c prog.c
gcc -O2 -Wall -Werror -o prog prog.c
./prog
cp prog keep
"

compare sqlite "
set -e
sqlite3 db.sqlite <<'SQL'
PRAGMA journal_mode=WAL;
PRAGMA mmap_size=67108864;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000)
INSERT INTO t(k, v) SELECT x % 97, printf('row-%06d', x) FROM c;
CREATE INDEX t_k ON t(k);
SELECT count(*), sum(k), min(v), max(v) FROM t;
SELECT k, count(*) FROM t GROUP BY k ORDER BY k LIMIT 5;
UPDATE t SET v = upper(v) WHERE k = 13;
SELECT v FROM t WHERE k = 13 ORDER BY id LIMIT 3;
PRAGMA integrity_check;
SQL
"

finish
