#!/bin/sh
# layers: the runtime's layers as a rule the build checks (docs/design.md,
# "Layers").  Every file of interpose/ and runtime/ has a layer:
#
#   0 boundary  interpose/preload.c, interpose/redirect.c
#   1 core      the hooks, fork, exec, exit, options, the API
#   2 engines   placement, migration (migrate, migrate_all), verify and
#               learning (verify, learn, sync), trace (trace, trace_site),
#               balance, the control socket, the service loop, the
#               runtime's threads,
#               the test build's corruption (corrupt.c)
#   3 model     itree, object, vma, mm, page, rmap, proc, arena, pagemap, self,
#               own
#   4 platform  sys, log, maps, numa
#
# and a file may use (call, or read a variable of) files of its own layer
# or below, never above: each object's undefined symbols (nm -u) are looked
# up among the others' defined ones (nm --defined-only).  The boundary's
# exports that stand in for libc's functions (mmap, fork, pthread_create,
# ...) count as libc's.  A runtime header is included only at or above its
# layer: runtime.h (what the boundary calls) by the core and the boundary,
# core.h (what the core's files share) no lower than the core.
# A file missing from the table fails the test, so a new one is placed.  The
# check must be able to fail: an object made here, put in the platform
# layer, that calls the core's ns_catch_up() is refused.  And no file but
# sys.h makes a raw sys_call(SYS_...): each call has a name there.  Run from the
# project root after `make check-tests` (corrupt.o is the test build's).
. tests/int_lib.sh
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
command -v nm >/dev/null || { echo "SKIP: no nm (binutils)"; exit 77; }
for o in runtime corrupt; do
	[ -f build/obj/runtime/$o.o ] || { echo "FAIL: build/obj/runtime/$o.o not built (make check-tests)"; exit 1; }
done

printf 'void ns_catch_up(void);\nvoid upward(void) { ns_catch_up(); }\n' >"$tmp/upward.c"
cc -c -o "$tmp/upward.o" "$tmp/upward.c" || { echo "FAIL: cannot compile the probe"; exit 1; }

cat >"$tmp/check.py" <<'PY'
import glob, re, subprocess, sys

LAYER = {
    'interpose/preload.c': 0, 'interpose/redirect.c': 0,
    'runtime/runtime.c': 1, 'runtime/api.c': 1, 'runtime/options.c': 1,
    'runtime/site.c': 1, 'runtime/place.c': 1,
    'runtime/hooks.c': 1, 'runtime/fork.c': 1,
    'runtime/migrate.c': 2, 'runtime/migrate_all.c': 2, 'runtime/uffd.c': 2, 'runtime/region.c': 2,
    'runtime/balance.c': 2,
    'runtime/verify.c': 2, 'runtime/learn.c': 2, 'runtime/sync.c': 2,
    'runtime/policy.c': 2, 'runtime/trace.c': 2, 'runtime/trace_site.c': 2,
    'runtime/share.c': 2, 'runtime/passed.c': 2, 'runtime/loop.c': 2,
    'runtime/thread.c': 2, 'runtime/ctl.c': 2, 'runtime/report.c': 2,
    'runtime/fill.c': 2, 'runtime/wp.c': 2, 'runtime/corrupt.c': 2,
    'runtime/itree.c': 3, 'runtime/object.c': 3, 'runtime/vma.c': 3, 'runtime/mm.c': 3,
    'runtime/page.c': 3, 'runtime/rmap.c': 3, 'runtime/proc.c': 3,
    'runtime/arena.c': 3, 'runtime/pagemap.c': 3, 'runtime/self.c': 3,
    'runtime/own.c': 3,
    'runtime/sys.c': 4, 'runtime/log.c': 4, 'runtime/maps.c': 4,
    'runtime/numa.c': 4,
}
HEADER = {'runtime.h': 1, 'core.h': 1}	# header: the lowest layer that may include it
NAMES = ['boundary', 'core', 'engines', 'model', 'platform']

extra = sys.argv[1:]		# FILE=OBJECT:LAYER, for the self-test
bad = []
files = sorted(glob.glob('interpose/*.c') + glob.glob('runtime/*.c'))
for f in files:
    if f not in LAYER:
        bad.append('%s has no layer in tests/integration/layers.sh' % f)
objs = {f: 'build/obj/' + f[:-2] + '.o' for f in files if f in LAYER}
layer = dict(LAYER)
for e in extra:
    f, rest = e.split('=')
    o, l = rest.rsplit(':', 1)
    objs[f], layer[f] = o, int(l)

def nm(args, o):
    return subprocess.run(['nm'] + args + [o], capture_output=True, text=True,
                          check=True).stdout.splitlines()

# libc's names the boundary exports in its stead
libc = set(re.findall(r'\b(\w+);', open('interpose/libnumashadow.map').read()))
libc = {s for s in libc if not s.startswith('numashadow_')}
defs = {}
for f, o in objs.items():
    for line in nm(['--defined-only'], o):
        p = line.split()
        if len(p) == 3 and p[1] in 'TDBRVW' and not (f.startswith('interpose/') and p[2] in libc):
            defs.setdefault(p[2], f)
for f, o in objs.items():
    for line in nm(['-u'], o):
        sym = line.split()[-1]
        d = defs.get(sym)
        if d and layer[d] < layer[f]:
            bad.append('%s (%s) uses %s of %s (%s)' % (f, NAMES[layer[f]], sym, d,
                                                       NAMES[layer[d]]))
for f in files:
    if f not in LAYER:
        continue
    for inc in re.findall(r'#include "([^"]+)"', open(f).read()):
        if inc in HEADER and LAYER[f] > HEADER[inc]:
            bad.append('%s (%s) includes %s' % (f, NAMES[LAYER[f]], inc))
for b in bad:
    print('upward:', b)
print('%d files, %d upward uses' % (len(objs), len(bad)))
sys.exit(1 if bad else 0)
PY

python3 "$tmp/check.py" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ $rc -eq 0 ] || fail "the layers are not kept"
python3 "$tmp/check.py" "runtime/upward.c=$tmp/upward.o:4" >"$tmp/out2" 2>&1 &&
	fail "a platform object calling ns_catch_up() passed the check"
grep -q "^upward: runtime/upward.c (platform) uses ns_catch_up of runtime/runtime.c (core)$" "$tmp/out2" ||
	fail "the check did not name the upward call: $(cat "$tmp/out2")"
# The kernel is reached through sys.h's named calls only: no raw
# sys_call(SYS_...) outside it.
raw=$(grep -n 'sys_call(SYS_' runtime/*.c runtime/*.h interpose/*.c | grep -v '^runtime/sys\.h:')
[ -z "$raw" ] || fail "raw system calls outside sys.h: $raw"
finish
