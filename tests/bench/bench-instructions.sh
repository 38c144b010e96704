#!/bin/bash
# bench-instructions.sh - the shim's cost counted in instructions (callgrind),
# which, unlike time on a shared machine, does not move between runs: a
# regression of a few instructions shows here before any ratio can see it.
# Usage: bench-instructions.sh LIBTHROTTLE.so BENCH-SHIM. Reports, never fails
# on a number; skips (77) without valgrind.
set -u
lib=$1 bench=$2
if ! command -v valgrind >/dev/null; then
	echo "valgrind is not installed: no instruction counts" >&2
	exit 77
fi
dir=$(mktemp -d /tmp/bench-instructions-XXXXXX)
pool=bench-ins-$$
trap 'rm -rf "$dir" /dev/shm/throttle.$pool /dev/shm/throttle.$pool-miss' EXIT
: >"$dir/file"
printf 'pool %s {\n  limit = 1000\n  open = {"%s/*"}\n}\n' "$pool" "$dir" >"$dir/hit.conf"
printf 'pool %s-miss {\n  limit = 1000\n  open = {"/nonexistent/**"}\n}\n' "$pool" >"$dir/miss.conf"

# Instructions of one child run of op with n calls, under env "$@".
count() {
	local op=$1 n=$2; shift 2
	env -u LD_PRELOAD -u THROTTLE_CONFIG "$@" valgrind --tool=callgrind \
		--callgrind-out-file=/dev/null "$bench" --child "$op" "$n" "$dir/file" 2>&1 |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

# Per call: the difference of 11000 and 1000 calls, so start-up cancels out.
per_call() {
	local op=$1; shift
	local a b
	a=$(count "$op" 1000 "$@") b=$(count "$op" 11000 "$@")
	[ -n "$a" ] && [ -n "$b" ] || { echo "?"; return; }
	echo $(((b - a) / 10000))
}

echo
echo "| Variant | open+close instructions | over raw | dup+close instructions | over raw |"
echo "|---|---:|---:|---:|---:|"
declare -A raw
for v in raw none miss hit; do
	case $v in
	raw) name="raw"; set -- ;;
	none) name="shim, no config"; set -- LD_PRELOAD="$lib" ;;
	miss) name="shim, no matching pool"; set -- LD_PRELOAD="$lib" THROTTLE_CONFIG="$dir/miss.conf" ;;
	hit) name="shim, matching pool"; set -- LD_PRELOAD="$lib" THROTTLE_CONFIG="$dir/hit.conf" ;;
	esac
	row="| $name |"
	for op in open dup; do
		n=$(per_call "$op" "$@")
		[ "$v" = raw ] && raw[$op]=$n
		if [[ $n =~ ^[0-9]+$ && ${raw[$op]} =~ ^[0-9]+$ ]]; then
			row+=" $n | +$((n - raw[$op])) |"
		else
			row+=" $n | ? |"
		fi
	done
	echo "$row"
done
echo
echo "callgrind, instructions per call pair in the benchmark loop (the loop's own"
echo "included), from the difference of runs of 11000 and 1000 pairs. In the"
echo "matching-pool row, dup copies a tracked descriptor."
