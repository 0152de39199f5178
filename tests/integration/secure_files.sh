#!/bin/sh
# secure_files: what the runtime writes, and what it takes from the
# environment.  A log or trace file it creates is 0600 (less the umask);
# an existing one keeps its mode; neither is opened through a symbolic
# link; the CLI creates a trace fresh, never through a link.  A setuid
# program linked with the library and started by another user takes no
# setting from the environment: a root-owned 0600 file named as its log is
# left as it was, and no trace is created where the caller chose.
. tests/int_lib.sh
LIB=$(pwd)/build/libnumashadow.so
need $LIB
chmod 755 $tmp

umask 022
# A new log: 0600 whatever the umask allows.
$NS run --log $tmp/new.log --report -- true >/dev/null 2>&1 || fail "run --log: exit $?"
[ "$(stat -c %a $tmp/new.log)" = 600 ] || fail "new log is $(stat -c %a $tmp/new.log), want 600"
grep -q "^numashadow: report:" $tmp/new.log || fail "nothing reported into the log"
# An existing log keeps its mode.
: >$tmp/old.log; chmod 640 $tmp/old.log
$NS run --log $tmp/old.log --report -- true >/dev/null 2>&1
[ "$(stat -c %a $tmp/old.log)" = 640 ] || fail "existing log became $(stat -c %a $tmp/old.log), want 640"
# /dev/null is not made anything else.
before=$(stat -c %a /dev/null)
$NS run --log /dev/null -- true >/dev/null 2>&1 || fail "run --log /dev/null: exit $?"
[ "$(stat -c %a /dev/null)" = "$before" ] || fail "/dev/null is now $(stat -c %a /dev/null)"
# Not through a link: refused in one line, the program runs unchanged.
ln -s $tmp/target.log $tmp/link.log
out=$($NS run --log $tmp/link.log -- echo hello 2>$tmp/err)
[ "$out" = hello ] || fail "program output under a refused log: $out"
[ -e $tmp/target.log ] && fail "the log was created through a symbolic link"
grep -q "^numashadow: NUMASHADOW_LOG=$tmp/link.log: not accepted" $tmp/err ||
	fail "no refusal line: $(cat $tmp/err)"
# A new trace: 0600; not through a link, by the CLI or by the runtime.
$NS run --trace $tmp/t.tr -- true || fail "run --trace: exit $?"
[ "$(stat -c %a $tmp/t.tr)" = 600 ] || fail "new trace is $(stat -c %a $tmp/t.tr), want 600"
ln -s $tmp/t2.tr $tmp/tlink.tr
$NS run --trace $tmp/tlink.tr -- true 2>/dev/null && fail "run --trace through a link accepted"
NUMASHADOW_TRACE=$tmp/tlink.tr LD_PRELOAD=$LIB true 2>/dev/null
[ -e $tmp/t2.tr ] && fail "the runtime created a trace through a symbolic link"

# Secure execution: needs root (to make a setuid-root program) and a
# filesystem that honours setuid.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && command -v gcc >/dev/null; then
	printf '#include <stdio.h>\n#include <unistd.h>\nint main(void){printf("euid %%d\\n",(int)geteuid());return 0;}\n' >$tmp/suid.c
	gcc -o $tmp/suid $tmp/suid.c $LIB -Wl,-rpath,$(dirname $LIB) || fail "cannot build the setuid program"
	chmod 4755 $tmp/suid
	echo secret >$tmp/secret; chmod 600 $tmp/secret
	out=$(setpriv --reuid 65534 --regid 65534 --clear-groups env NUMASHADOW_LOG=$tmp/secret \
	      NUMASHADOW_TRACE=$tmp/chosen.tr NUMASHADOW_REPORT=1 NUMASHADOW_VERIFY=bad $tmp/suid 2>$tmp/err)
	if [ "$out" = "euid 0" ]; then
		[ "$(cat $tmp/secret)" = secret ] || fail "the root-owned log was written: $(cat $tmp/secret)"
		[ "$(stat -c %a $tmp/secret)" = 600 ] || fail "the root-owned log is now $(stat -c %a $tmp/secret)"
		[ -e $tmp/chosen.tr ] && fail "a trace was created where the caller chose"
		[ -s $tmp/err ] && fail "the setuid program said something: $(cat $tmp/err)"
	else
		echo "note: setuid not honoured here ($out); secure execution not checked"
	fi
fi
[ "$fails" -eq 0 ] && echo "secure_files: ok"
finish
