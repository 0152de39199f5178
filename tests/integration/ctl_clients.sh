#!/bin/sh
# ctl_clients: nothing a control-socket client does holds up the others,
# the program, its trace or its timers.  Twenty silent clients and one
# trickling a byte at a time are connected while `numashadow stat` is
# asked: it is answered while they still hang on.  Pipelined requests are
# answered in turn, a last request without its newline at EOF is answered,
# an oversized one gets an error line.
. tests/int_lib.sh
PROG=build/tests/progs/workload
need $PROG
[ -x /usr/bin/python3 ] || { echo "SKIP: needs /usr/bin/python3 (make deps)"; exit 77; }
XDG_RUNTIME_DIR=$tmp/xdg; export XDG_RUNTIME_DIR
mkdir -m 700 $XDG_RUNTIME_DIR
$NS run --ctl --trace $tmp/t.tr -- $PROG 8 60 >/dev/null 2>$tmp/err &
pid=$!
on_exit='kill $pid 2>/dev/null; wait $pid 2>/dev/null'
sock=$XDG_RUNTIME_DIR/numashadow/$pid.sock
for i in $(seq 100); do [ -S $sock ] && break; sleep 0.1; done
[ -S $sock ] || { fail "no socket"; finish; }

/usr/bin/python3 - "$sock" "$NS" "$pid" >$tmp/py 2>&1 <<'PY' || fail "clients: $(cat $tmp/py)"
import socket, subprocess, sys, time
path, ns, pid = sys.argv[1], sys.argv[2], sys.argv[3]

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)		# blocking, as the command's own
    s.settimeout(10)
    return s

def answer(s):
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            return data.decode()
        data += b

bad = 0
def check(cond, what):
    global bad
    if not cond:
        print("FAIL:", what)
        bad += 1

# Twenty silent clients, one trickling: stat is still answered at once.
idle = [conn() for _ in range(20)]
trickle = conn()
trickle.send(b"s")
t0 = time.monotonic()
r = subprocess.run([ns, "stat", "--pid", pid], capture_output=True, text=True)
check(r.returncode == 0 and ("pid " + pid) in r.stdout,
      "stat behind silent clients: %d %s %s" % (r.returncode, r.stdout[-200:], r.stderr))
# The trickler goes on and is answered in the end.
for ch in b"tat\n":
    time.sleep(0.3)
    trickle.send(bytes([ch]))
trickle.shutdown(socket.SHUT_WR)
a = answer(trickle)
check(a.rstrip().endswith("ok"), "trickled request: %r" % a[-200:])

# Pipelined: two requests in one write, two answers in turn.
s = conn()
s.sendall(b"stat\nstat\n")
s.shutdown(socket.SHUT_WR)
a = answer(s)
check(a.count("\nok\n") + a.startswith("ok\n") == 2, "pipelined: %d answers: %r" % (a.count("ok\n"), a[-300:]))

# No newline before EOF.
s = conn()
s.sendall(b"stat")
s.shutdown(socket.SHUT_WR)
a = answer(s)
check(a.rstrip().endswith("ok"), "no newline at EOF: %r" % a[-200:])

# Oversized.
s = conn()
s.sendall(b"x" * 300)
a = answer(s)
check(a.startswith("error: request too long"), "oversized: %r" % a[:200])
for c in idle:
    c.close()
sys.exit(1 if bad else 0)
PY
kill -0 $pid 2>/dev/null || fail "the program is gone: $(cat $tmp/err)"
[ -s $tmp/err ] && fail "lines on stderr: $(head -3 $tmp/err)"
[ "$fails" -eq 0 ] && echo "ctl_clients: ok"
finish
