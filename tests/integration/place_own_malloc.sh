#!/bin/sh
# place_own_malloc: under a placement policy and nothing else, a program
# whose malloc is its own (tests/progs/own_malloc.c) is never woken by its
# mmap of a large region: waking starts the monitor, a thread, and
# pthread_create allocates, which another allocator holding its own locks
# around that mmap would deadlock on (docs/placement.md, "Dormant under a
# policy").  The region is the kernel's to place instead: the process has
# one thread and the kernel reports the VMA policy interleave (3).  With
# libc's malloc the same mmap starts the monitor (place_dormant.c).
. tests/int_lib.sh
PROG=build/tests/progs/own_malloc
need $PROG
timeout -s KILL 60 $NS run --interleave=all -- $PROG >$tmp/out 2>$tmp/err; rc=$?
[ $rc -eq 0 ] || fail "exit $rc: $(tail -5 $tmp/err)"
[ "$(cat $tmp/out)" = "threads 1 mode 3" ] ||
	fail "want 'threads 1 mode 3' (no monitor; the kernel interleaves), got '$(cat $tmp/out)'"
[ -s $tmp/err ] && fail "stderr: $(head -5 $tmp/err)"
# The program alone: its own allocator works, nothing of ours is needed.
$PROG >$tmp/plain || fail "plain run: exit $?"
[ "$(cat $tmp/plain)" = "threads 1 mode 0" ] || fail "plain run: $(cat $tmp/plain)"
[ "$fails" -eq 0 ] && echo "place_own_malloc: ok"
finish
