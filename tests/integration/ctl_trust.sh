#!/bin/sh
# ctl_trust: `numashadow stat --pid` and `migrate --pid` talk only to a
# control socket of their own user (docs/security.md).  A fake server
# answers every request with "moved 4242 pages" and "ok"; the commands
# must refuse it, with one line on stderr starting "numashadow:", a
# non-zero status and nothing of its answer on stdout, when: the socket
# directory is another user's (0777, made first by uid 65534 in /tmp for a
# user without XDG_RUNTIME_DIR, as issue 10 found; and under
# XDG_RUNTIME_DIR); it is ours but writable by others; it is a symbolic
# link to a directory of ours; the directory is right but the server
# listens as another uid (SO_PEERCRED).  The same server in a directory of
# ours, listening with our uid, is believed (so the refusals are not an
# accident).  An XDG_RUNTIME_DIR too long for a socket address is refused
# in one line, not cut short.  A process without a socket (no directory,
# no socket file, or one nobody listens on) gets the one line
# "numashadow: pid P has no control socket (start it with 'numashadow run
# --ctl')".  `run --ctl` sets NUMASHADOW_CTL=1, `run --no-ctl` 0, both
# together are a usage error, and `help run` names --ctl.  Needs root (to
# play the other users) and gcc.  Run from the project root.
. tests/int_lib.sh
need
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to act as other users"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: needs setpriv (util-linux)"; exit 77; }
OTHER=65534		# the other user (nobody)
ME2=65533		# a user without XDG_RUNTIME_DIR, for /tmp/numashadow-UID

# The fake server: binds DIR/PID.sock (0666), takes on UID (-1: stays),
# listens (SO_PEERCRED is the listener's), prints its pid, then answers
# each request line with a migration that never happened.  With "nolisten"
# it binds and exits: a socket file nobody serves.
cat >"$tmp/fake.c" <<'C'
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char ans[] = "moved 4242 pages to node 0\nok\n";
	int uid = atoi(argv[2]), fd = socket(AF_UNIX, SOCK_STREAM, 0), c;
	char ch;

	if (argc < 3 || fd < 0)
		return 1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%d.sock", argv[1], (int)getpid());
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(sa.sun_path, 0666))
		return perror("bind"), 1;
	if (argc > 3 && !strcmp(argv[3], "nolisten")) {
		printf("%d\n", (int)getpid());
		return 0;
	}
	if (uid >= 0 && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
		return perror("setuid"), 1;
	if (listen(fd, 8))
		return perror("listen"), 1;
	printf("%d\n", (int)getpid());
	fflush(stdout);
	while ((c = accept(fd, NULL, NULL)) >= 0) {
		while (read(c, &ch, 1) == 1 && ch != '\n')
			;	/* the whole request, so the client's write never fails */
		/* A client that hung up (refusing us) does not end the server. */
		send(c, ans, sizeof(ans) - 1, MSG_NOSIGNAL);
		close(c);
	}
	return 1;
}
C
gcc -O1 -o "$tmp/fake" "$tmp/fake.c" || { echo "FAIL: cannot build the fake server"; exit 1; }

servers=""
on_exit='for p in $servers; do kill $p 2>/dev/null; done; [ -n "${made_tmp_dir:-}" ] && rm -rf "$made_tmp_dir"'

# serve DIR UID: starts a fake server listening in DIR as UID; sets $spid.
serve() {
	out="$tmp/serve.$(date +%s%N)"
	"$tmp/fake" "$1" "$2" >"$out" 2>&1 &
	servers="$servers $!"
	spid=$!
	for i in $(seq 100); do
		[ -s "$out" ] && break
		sleep 0.05
	done
	[ "$(cat "$out")" = "$spid" ] || { echo "FAIL: fake server in $1: $(cat "$out")"; exit 1; }
}

# refused LABEL PATTERN CMD...: one line on stderr starting numashadow:
# and matching PATTERN, a non-zero status, none of the fake answer.
refused() {
	label=$1 pat=$2
	shift 2
	"$@" >"$tmp/o" 2>"$tmp/e" </dev/null
	rc=$?
	[ $rc -ne 0 ] || fail "$label: exit 0"
	grep -q 4242 "$tmp/o" && fail "$label: printed the fake answer: $(cat "$tmp/o")"
	[ "$(wc -l <"$tmp/e")" -eq 1 ] || fail "$label: not one line on stderr: $(cat "$tmp/e")"
	grep -q '^numashadow: ' "$tmp/e" || fail "$label: does not start 'numashadow: ': $(cat "$tmp/e")"
	grep -q -- "$pat" "$tmp/e" || fail "$label: '$(cat "$tmp/e")' lacks '$pat'"
}

# 1. Issue 10: without XDG_RUNTIME_DIR, another user made /tmp/numashadow-UID.
as_me2="setpriv --reuid $ME2 --regid $ME2 --clear-groups env -u XDG_RUNTIME_DIR"
d=/tmp/numashadow-$ME2
if [ -e "$d" ] || [ -L "$d" ]; then
	fail "$d exists already; cannot play the attacker there"
else
	made_tmp_dir=$d
	mkdir -m 0777 "$d" && chown $OTHER:$OTHER "$d" && chmod 0777 "$d"
	serve "$d" $OTHER
	refused "/tmp dir of uid $OTHER, stat" "owned by uid $OTHER" $as_me2 "$NS" stat --pid $spid
	refused "/tmp dir of uid $OTHER, migrate" "owned by uid $OTHER" \
		$as_me2 "$NS" migrate --pid $spid --to 0
fi

# 2. The same under XDG_RUNTIME_DIR, as root.
mkdir -p "$tmp/x1/numashadow"
chown $OTHER:$OTHER "$tmp/x1/numashadow"
chmod 0777 "$tmp/x1/numashadow"
serve "$tmp/x1/numashadow" $OTHER
refused "XDG dir of uid $OTHER" "owned by uid $OTHER" \
	env XDG_RUNTIME_DIR="$tmp/x1" "$NS" stat --pid $spid

# 3. Ours, but others may write in it (and swap the socket).
mkdir -p "$tmp/x2/numashadow"
chmod 0777 "$tmp/x2/numashadow"
serve "$tmp/x2/numashadow" -1
refused "XDG dir 0777" "writable by others" \
	env XDG_RUNTIME_DIR="$tmp/x2" "$NS" stat --pid $spid
chmod 0770 "$tmp/x2/numashadow"
refused "XDG dir 0770" "writable by its group" \
	env XDG_RUNTIME_DIR="$tmp/x2" "$NS" migrate --pid $spid --to 0

# 4. A symbolic link, even to a directory of ours.
mkdir -p "$tmp/x3" "$tmp/real"
chmod 0700 "$tmp/real"
ln -s "$tmp/real" "$tmp/x3/numashadow"
serve "$tmp/real" -1
refused "XDG dir a symlink" "symbolic link" \
	env XDG_RUNTIME_DIR="$tmp/x3" "$NS" stat --pid $spid

# 5. Our directory, but the server listens as another uid.
mkdir -p "$tmp/x4/numashadow"
chmod 0700 "$tmp/x4/numashadow"
serve "$tmp/x4/numashadow" $OTHER
refused "peer of uid $OTHER" "served by uid $OTHER" \
	env XDG_RUNTIME_DIR="$tmp/x4" "$NS" stat --pid $spid
refused "peer of uid $OTHER, migrate" "served by uid $OTHER" \
	env XDG_RUNTIME_DIR="$tmp/x4" "$NS" migrate --pid $spid --to 0

# 6. The control: our directory, our uid: believed.
mkdir -p "$tmp/x5/numashadow"
chmod 0700 "$tmp/x5/numashadow"
serve "$tmp/x5/numashadow" -1
out=$(env XDG_RUNTIME_DIR="$tmp/x5" "$NS" migrate --pid $spid --to 0 2>&1)
rc=$?
[ $rc -eq 0 ] && [ "$out" = "moved 4242 pages to node 0" ] ||
	fail "our own server: exit $rc: '$out'"

# 7. An XDG_RUNTIME_DIR too long for sun_path (107 bytes and a NUL).
long=$tmp/x6/$(printf '%0100d' 0)
mkdir -p "$long/numashadow"
chmod 0700 "$long/numashadow"
refused "XDG_RUNTIME_DIR too long" "too long" \
	env XDG_RUNTIME_DIR="$long" "$NS" stat --pid $spid

# 8. No socket: no directory; a directory without it; a dead one's file.
sleep 60 &
servers="$servers $!"
lone=$!
want="numashadow: pid $lone has no control socket (start it with 'numashadow run --ctl')"
mkdir -p "$tmp/x7" "$tmp/x8/numashadow"
chmod 0700 "$tmp/x8/numashadow"
for x in x7 x8; do
	for c in "stat --pid $lone" "migrate --pid $lone --to 0"; do
		out=$(env XDG_RUNTIME_DIR="$tmp/$x" "$NS" $c 2>&1)
		rc=$?
		[ $rc -ne 0 ] && [ "$out" = "$want" ] || fail "$c, no socket ($x): exit $rc: '$out'"
	done
done
dead=$("$tmp/fake" "$tmp/x8/numashadow" -1 nolisten)
[ -S "$tmp/x8/numashadow/$dead.sock" ] || fail "no socket file left by the fake server"
# The dead server's pid may be free now: ask about a live one's name.
mv "$tmp/x8/numashadow/$dead.sock" "$tmp/x8/numashadow/$lone.sock"
out=$(env XDG_RUNTIME_DIR="$tmp/x8" "$NS" stat --pid $lone 2>&1)
rc=$?
[ $rc -ne 0 ] && [ "$out" = "$want" ] || fail "stat, a socket nobody serves: exit $rc: '$out'"

# 9. run --ctl / --no-ctl.
[ "$("$NS" run --ctl -- sh -c 'echo $NUMASHADOW_CTL' 2>&1)" = 1 ] ||
	fail "run --ctl: NUMASHADOW_CTL is not 1"
[ "$("$NS" run --no-ctl -- sh -c 'echo $NUMASHADOW_CTL' 2>&1)" = 0 ] ||
	fail "run --no-ctl: NUMASHADOW_CTL is not 0"
"$NS" run --ctl --no-ctl -- true >/dev/null 2>&1
[ $? -eq 2 ] || fail "run --ctl --no-ctl: not a usage error"
"$NS" help run | grep -q -- '--ctl .*NUMASHADOW_CTL=1' ||
	"$NS" help run | grep -A1 -- '--ctl ' | grep -q 'NUMASHADOW_CTL=1' ||
	fail "help run: --ctl not described"

[ "$fails" -eq 0 ] && echo "ctl_trust: ok"
finish
