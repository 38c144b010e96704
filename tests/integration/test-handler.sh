#!/bin/bash
# test-handler.sh SHIM HANDLER_OPEN - a signal handler's open() and close()
# of a gated path, landing while its thread is inside the shim's pool lock,
# go through at once: no stall of seconds on the thread's own lock, no
# message, no failed call. The handler comes every 20 µs for a second, so
# thousands land inside the lock.
set -u
shim=$1 prog=$2
dir=$(mktemp -d)
pool=handler-$$
trap 'rm -rf "$dir"; rm -f /dev/shm/throttle.$pool' EXIT
touch "$dir/loop" "$dir/handler"
printf 'pool %s {\n limit = 100\n open = {"%s/*"}\n}\n' "$pool" "$dir" \
	>"$dir/c.conf"
start=$(date +%s%N)
out=$(THROTTLE_CONFIG="$dir/c.conf" LD_PRELOAD="$shim" \
	timeout 20 "$prog" "$dir/loop" "$dir/handler" 1000 2>"$dir/err")
rc=$?
took=$((($(date +%s%N) - start) / 1000000))
echo "$out (rc=$rc, ${took} ms)"
if [ -s "$dir/err" ]; then
	echo "stderr:"; cat "$dir/err"
fi
loops=$(sed -n 's/.*loops=\([0-9]*\).*/\1/p' <<<"$out")
handled=$(sed -n 's/.*handled=\([0-9]*\).*/\1/p' <<<"$out")
[ "$rc" = 0 ] && [ ! -s "$dir/err" ] && [[ $out == *"failed=0"* ]] &&
	[ "${handled:-0}" -ge 1000 ] && [ "${loops:-0}" -ge 1000 ] &&
	[ "$took" -lt 10000 ]
