#!/bin/bash
# test-novdso.sh SHIM DLERROR - where the kernel maps no vDSO (valgrind
# runs programs without one), the shim's clock falls back to libc without
# the loader searching the disk for a vDSO library, and leaves no error
# for the program's dlerror(). The lookup runs when a pool is attached, so
# the config has one. Skips (77) without valgrind.
set -u
shim=$1 probe=$2
command -v valgrind >/dev/null || { echo "no valgrind"; exit 77; }
dir=$(mktemp -d)
pool=novdso-$$
trap 'rm -rf "$dir" /dev/shm/throttle.$pool' EXIT
printf 'pool %s {\n limit = 1\n open = {"%s/*"}\n}\n' "$pool" "$dir" \
	> "$dir/c.conf"
export THROTTLE_CONFIG=$dir/c.conf
failed=0
log=$(LD_PRELOAD=$shim valgrind -q --trace-syscalls=yes "$probe" 2>&1)
grep -q "throttle.$pool" <<<"$log" ||
	{ echo "the pool was not attached: the lookup never ran"; failed=1; }
if grep -q 'linux-vdso' <<<"$log"; then
	echo "the loader looked for linux-vdso.so.1 on disk:"
	grep 'linux-vdso' <<<"$log" | head -3
	failed=1
fi
out=$(LD_PRELOAD=$shim valgrind -q "$probe" 2>&1)
if [[ $out != "dlerror: none" ]]; then
	echo "under valgrind: $out"
	failed=1
fi
out=$(LD_PRELOAD=$shim "$probe" 2>&1)
if [[ $out != "dlerror: none" ]]; then
	echo "with a vDSO: $out"
	failed=1
fi
[[ $failed == 0 ]] && echo "no vDSO: no search, no dlerror"
exit $failed
