# tests/vm_lib.sh - sourced by the tests in tests/vm/ (run from the project
# root): what each needs before it boots the guest.

fail() { echo "FAIL: $*"; exit 1; }

# vm_need FILE...: skips (status 77) without qemu, the only skip; fails
# without build/numashadow or one of the files.
vm_need() {
	if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
		echo "SKIP: qemu-system-x86_64 not installed (Debian package qemu-system-x86)"
		exit 77
	fi
	for f in build/numashadow "$@"; do
		[ -x "$f" ] || fail "$f missing; run make check-tests"
	done
}
