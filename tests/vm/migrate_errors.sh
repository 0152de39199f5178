#!/bin/sh
# tests/vm/migrate_errors.sh - every class of migration error is reported
# by its reason, through the engine and through the command.  In one boot
# of a 2-node guest (automatic NUMA balancing off), as root: first each
# engine case of tests/progs/vm_migrate_errors.c (eacces-fork,
# eacces-outside, enodev, einval, enoent, unmapped, partial, efault, ebusy:
# that file says what each asserts) in its own process under `numashadow
# run --verify`; then `numashadow migrate`/`stat` against targets started
# with `numashadow run --ctl --verify` (vm_migrate_errors serve MODE):
# cli-esrch (a reaped pid: "no process P", status 1); cli-enodev (--to 2:
# the runtime's "node 2 is not online (online nodes: 0,1)", status 1; --to
# 64: usage, status 2; stat counts nothing); cli-enoent (an untouched
# range: "moved 0 pages", one call and nothing else counted; an unmapped
# range: "nothing is mapped in", status 1); cli-ebusy (a range with one
# page held by a pipe: "moved 63 pages", stat counts busy 1 and no other
# failure); cli-eperm (uid 65534 against root's target: "no control
# socket" in its own directory, "owned by uid 0, not by you" through
# root's XDG_RUNTIME_DIR, move_pages(2) itself EPERM for a query and a
# move; root's command does not reach uid 65534's target either; stat
# unchanged); cli-eacces (root's target without CAP_SYS_NICE, pages shared
# with its fork child: "moved 0 pages", stat counts shared 64); cli-target
# (each target's own view at its end: the held page on node 0 and the
# rest on 1, or everything on 0; verify clean, exit 0); cli-eacces-user
# (the same as cli-eacces with target and command run by uid 65534);
# cli-partial (a range from a buffer to the top of the address space,
# past the last mapping: "moved N pages to node 1" within 30 s).  The
# script runs itself in the guest with --guest, which prints "case NAME:
# PASS" or "case NAME: FAIL (why)".  Run from the project root after
# `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/vm_migrate_errors
NS=build/numashadow
ENGINE="eacces-fork eacces-outside enodev einval enoent unmapped partial efault ebusy"
CLI="cli-esrch cli-enodev cli-enoent cli-ebusy cli-eperm cli-eacces cli-target cli-eacces-user
cli-partial"

if [ "${1-}" = --guest ]; then
	f=/proc/sys/kernel/numa_balancing
	[ ! -e $f ] || echo 0 >$f || exit 125
	unset XDG_RUNTIME_DIR NUMASHADOW_CTL NUMASHADOW_VERIFY
	T="$PROG timeout"
	AS="$PROG asuser 65534"
	ok() { echo "case $1: PASS"; }
	no() { echo "case $1: FAIL ($2)"; }

	for c in $ENGINE; do
		$T 90 $NS run --verify -- $PROG $c >/tmp/out 2>&1
		rc=$?
		cat /tmp/out
		if [ $rc -ne 0 ]; then no $c "exit $rc"
		elif ! grep -qx "$c: PASS" /tmp/out; then no $c "no PASS line"
		else ok $c; fi
	done

	# run WANT_RC CMD...: runs CMD (30 s at most) with its stdout in
	# /tmp/o and stderr in /tmp/e, shows them; returns 0 when the status
	# is WANT_RC, else says so in $why.
	run() {
		want=$1
		shift
		XDG_RUNTIME_DIR=$xdg $T 30 "$@" >/tmp/o 2>/tmp/e
		got=$?
		echo "\$ $* -> $got"
		sed 's/^/  out: /' /tmp/o
		sed 's/^/  err: /' /tmp/e
		[ $got -eq $want ] && return 0
		why="'$*' exited $got, expected $want"
		return 1
	}
	# is FILE LINE: FILE holds exactly LINE.
	is() {
		[ "$(cat "$1")" = "$2" ] && return 0
		why="expected exactly '$2' in $1, got '$(cat "$1")'"
		return 1
	}
	# counters CMD...: the migrations line CMD (a `stat`) prints matches
	# the extended regular expression $want_stat, whole.
	counters() {
		XDG_RUNTIME_DIR=$xdg $T 30 "$@" >/tmp/st 2>&1
		line=$(grep '^migrations:' /tmp/st)
		echo "  stat: $line"
		echo "$line" | grep -Eqx "$want_stat" && return 0
		why="stat says '$line', expected /$want_stat/"
		return 1
	}
	# start_target NAME INFO CMD...: starts a target in the background and
	# waits until it has written INFO; leaves its pid in $pid.
	start_target() {
		name=$1 info=$2
		shift 2
		rm -f "$info" "$info.done"
		XDG_RUNTIME_DIR=$xdg "$@" >"$info.out" 2>&1 &
		bg=$! i=0
		until [ -s "$info" ]; do
			i=$((i + 1))
			if [ $i -ge 600 ] || ! kill -0 $bg 2>/dev/null; then
				kill -0 $bg 2>/dev/null && kill -9 $bg
				wait $bg
				st=$?
				cat "$info.out"
				why="target $name did not start (status $st)"
				[ $st -ne 86 ] || why="$why: verify found the shadow wrong"
				echo "$why"
				return 1
			fi
			sleep 0.1
		done
		cat "$info"
		pid=$(sed -n 's/^pid //p' "$info")
	}
	field() { sed -n "s/^$2 //p" "$1"; }
	# finish INFO PID: lets the target end and checks it said PASS.
	finish() {
		touch "$1.done"
		$T 60 sh -c "while kill -0 $2 2>/dev/null; do sleep 0.1; done"
		wait "$2"
		frc=$?
		cat "$1.out"
		[ $frc -eq 0 ] && grep -qx "serve: PASS" "$1.out" && return 0
		why="target $2 exited $frc"
		return 1
	}

	# X CMD...: CMD with XDG_RUNTIME_DIR=/tmp/xdg for what run,
	# counters and start_target start (empty counts as unset).
	xdg=
	X() { xdg=/tmp/xdg; "$@"; xr=$?; xdg=; return $xr; }
	mkdir -p /tmp/xdg /tmp/u && chmod 755 /tmp/xdg && chmod 777 /tmp/u
	# s1: root's, with a page held by a pipe, under XDG_RUNTIME_DIR;
	# s2: root's without CAP_SYS_NICE, its pages shared with a child;
	# s4: uid 65534's, left alone.  A target that does not start fails
	# the cases that use it.
	X start_target root /tmp/xdg/s1 $NS run --ctl --verify -- $PROG serve /tmp/xdg/s1 pin ||
		s1=1
	s1=${s1:-$pid}
	start_target nocap /tmp/s2 $PROG nocap $NS run --ctl --verify -- $PROG serve /tmp/s2 fork ||
		s2=1
	s2=${s2:-$pid}
	start_target nobody /tmp/u/s4 $AS $NS run --ctl --verify -- $PROG serve /tmp/u/s4 idle ||
		s4=1
	s4=${s4:-$pid}
	none='calls 0 moved 0 already 0 shared 0 not-present 0 nomem 0 not-movable 0 busy 0 other 0 passes 0'

	# cli-esrch
	/bin/sh -c 'exit 0' &
	dead=$!
	wait $dead
	if run 1 $NS migrate --pid $dead --to 1 && is /tmp/o "" &&
	   is /tmp/e "numashadow: migrate: no process $dead"; then ok cli-esrch
	else no cli-esrch "$why"; fi

	# cli-enodev
	want_stat="migrations: $none"
	if X run 1 $NS migrate --pid $s1 --to 2 --sync && is /tmp/o "" &&
	   is /tmp/e "numashadow: migrate: node 2 is not online (online nodes: 0,1)" &&
	   X run 2 $NS migrate --pid $s1 --to 64 && grep -q -- --to /tmp/e &&
	   X counters $NS stat --pid $s1; then ok cli-enodev
	else no cli-enodev "$why"; fi

	# cli-enoent
	want_stat='migrations: calls 1 moved 0 already 0 shared 0 not-present 0 nomem 0 not-movable 0 busy 0 other 0 passes 0'
	if X run 0 $NS migrate --pid $s1 --to 1 --range "$(field /tmp/xdg/s1 untouched)" --sync &&
	   is /tmp/o "moved 0 pages to node 1" && is /tmp/e "" &&
	   X run 1 $NS migrate --pid $s1 --to 1 --range 1000-3000 && is /tmp/o "" &&
	   is /tmp/e "numashadow: migrate: nothing is mapped in 0x1000-0x3000" &&
	   X counters $NS stat --pid $s1; then ok cli-enoent
	else no cli-enoent "$why"; fi

	# cli-ebusy
	want_stat='migrations: calls 2 moved 63 already 0 shared 0 not-present 0 nomem 0 not-movable 0 busy 1 other 0 passes [1-9][0-9]*'
	if X run 0 $NS migrate --pid $s1 --to 1 --range "$(field /tmp/xdg/s1 buf)" --sync &&
	   is /tmp/o "moved 63 pages to node 1" && is /tmp/e "" &&
	   X counters $NS stat --pid $s1; then ok cli-ebusy
	else no cli-ebusy "$why"; fi

	# cli-eperm
	nosock="numashadow: pid $s1 has no control socket (start it with 'numashadow run --ctl')"
	if run 1 $AS $NS migrate --pid $s1 --to 1 && is /tmp/e "$nosock" &&
	   X run 1 $AS $NS migrate --pid $s1 --to 1 &&
	   is /tmp/e "numashadow: migrate: /tmp/xdg/numashadow is owned by uid 0, not by you (uid 65534); refusing to look for a control socket there" &&
	   run 0 $AS $PROG rawq $s1 "$(field /tmp/xdg/s1 first)" &&
	   is /tmp/o "rawq: uid 65534: query EPERM, move EPERM" &&
	   run 1 $NS migrate --pid $s4 --to 1 &&
	   is /tmp/e "numashadow: pid $s4 has no control socket (start it with 'numashadow run --ctl')" &&
	   X counters $NS stat --pid $s1; then ok cli-eperm
	else no cli-eperm "$why"; fi

	# cli-eacces
	want_stat='migrations: calls 1 moved 0 already 0 shared 64 not-present 0 nomem 0 not-movable 0 busy 0 other 0 passes 0'
	if run 0 $NS migrate --pid $s2 --to 1 --range "$(field /tmp/s2 buf)" --sync &&
	   is /tmp/o "moved 0 pages to node 1" && is /tmp/e "" &&
	   counters $NS stat --pid $s2; then ok cli-eacces
	else no cli-eacces "$why"; fi

	# cli-target
	if finish /tmp/xdg/s1 $s1 && finish /tmp/s2 $s2 && finish /tmp/u/s4 $s4; then
		ok cli-target
	else
		no cli-target "$why"
	fi

	# cli-eacces-user: the same as an ordinary user, whose target (under
	# --verify, like every other) forks.
	if start_target user /tmp/u/s5 $AS $NS run --ctl --verify -- $PROG serve /tmp/u/s5 fork &&
	   s5=$pid &&
	   run 0 $AS $NS migrate --pid $s5 --to 1 --range "$(field /tmp/u/s5 buf)" --sync &&
	   is /tmp/o "moved 0 pages to node 1" && is /tmp/e "" &&
	   counters $AS $NS stat --pid $s5 && finish /tmp/u/s5 $s5; then
		ok cli-eacces-user
	else
		no cli-eacces-user "$why"
	fi

	# cli-partial: last, as it may leave its target spinning.
	start_target partial /tmp/s3 $NS run --ctl --verify -- $PROG serve /tmp/s3 pin || s3=1
	s3=${s3:-$pid}
	lo=$(field /tmp/s3 buf | cut -d- -f1)
	if run 0 $NS migrate --pid $s3 --to 1 --range "$lo-7ffffffff000" --sync &&
	   grep -Eqx "moved [0-9]+ pages to node 1" /tmp/o && is /tmp/e ""; then
		rm -f /tmp/s3.done
		ok cli-partial
	else
		no cli-partial "$why"
	fi
	kill -9 $s3 2>/dev/null
	wait $s3 2>/dev/null
	exit 0
fi

. tests/vm_lib.sh
vm_need $PROG

vm_run_self $PROG
vm_expect_cases "$(for c in $ENGINE $CLI; do echo $c; done)"
echo "PASS: each migration error counted by its reason, by the engine and the command"
