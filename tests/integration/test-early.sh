#!/bin/bash
# test-early.sh SHIM EARLY_LIB - open() from another library's constructor,
# preloaded before and after the shim: it works, it is gated (limit 1, the
# second open refused), and the program runs normally afterwards.
set -u
shim=$1 early=$2
dir=$(mktemp -d)
pool=early-$$
trap 'rm -rf "$dir"; rm -f /dev/shm/throttle.$pool' EXIT
touch "$dir/f"
printf 'pool %s {\n limit = 1\n on-full = fail\n open = {"%s/*"}\n}\n' \
	"$pool" "$dir" > "$dir/c.conf"
pass=0 failed=0
for order in "$shim $early" "$early $shim"; do
	out=$(EARLY_PATH="$dir/f" THROTTLE_CONFIG="$dir/c.conf" LD_PRELOAD="$order" \
		cat "$dir/f" 2>&1; echo "rc=$?")
	want="early: first ok, second Too many open files in system"
	if [[ $out == *"$want"* && $out == *"rc=0"* ]]; then
		pass=$((pass + 1))
	else
		echo "LD_PRELOAD='$order': got: $out"
		failed=$((failed + 1))
	fi
done
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
