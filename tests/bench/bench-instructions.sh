#!/bin/bash
# bench-instructions.sh - the shim's cost counted in instructions (callgrind),
# which, unlike time on a shared machine, does not move between runs: a
# regression of a few instructions shows here before any ratio can see it.
# Usage: bench-instructions.sh [--check-syscalls] LIBTHROTTLE.so BENCH-SHIM.
# Reports, never fails on a number; skips (77) without valgrind. With
# --check-syscalls it is a test instead: system calls per call pair only
# (strace), failing if the shim adds one to any; skips without strace.
set -u
check=
[ "$1" = --check-syscalls ] && { check=1; shift; }
lib=$1 bench=$2
tool=valgrind
[ -n "$check" ] && tool=strace
if ! command -v "$tool" >/dev/null; then
	echo "$tool is not installed: nothing counted" >&2
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

# variant V: name and envs, the row's title and environment.
variant() {
	case $1 in
	raw) name="raw"; envs=() ;;
	none) name="shim, no config"; envs=(LD_PRELOAD="$lib") ;;
	miss) name="shim, no matching pool"
	      envs=(LD_PRELOAD="$lib" THROTTLE_CONFIG="$dir/miss.conf") ;;
	hit) name="shim, matching pool"
	     envs=(LD_PRELOAD="$lib" THROTTLE_CONFIG="$dir/hit.conf") ;;
	esac
}

# System calls of one child run, under env "$@": callgrind cannot see time
# in the kernel, so a shim that adds a system call shows here instead. The
# summary's total line is "% seconds usecs/call calls [errors] total".
syscalls() {
	local op=$1 n=$2; shift 2
	command -v strace >/dev/null || return
	env -u LD_PRELOAD -u THROTTLE_CONFIG "$@" strace -f -c -o "$dir/strace" \
		"$bench" --child "$op" "$n" "$dir/file" >/dev/null 2>&1 &&
		awk '$NF == "total" { print $4 }' "$dir/strace"
}

# Per call: the difference of 11000 and 1000 calls, so start-up cancels out.
# COUNT=syscalls counts system calls instead (exact: 1100 and 100 calls).
per_call() {
	local op=$1; shift
	local a b n=1000
	[ -n "${COUNT:-}" ] && n=100
	a=$(${COUNT:-count} "$op" "$n" "$@") b=$(${COUNT:-count} "$op" $((11 * n)) "$@")
	[ -n "$a" ] && [ -n "$b" ] || { echo "?"; return; }
	echo $(((b - a) / (10 * n)))
}

# The rows in system calls per pair: 2 raw, and the shim adds none. Returns
# 1 if a variant makes more or fewer than raw, 77 if strace could not count.
syscall_table() {
	local v op n row bad=0
	local -A base
	echo "| Variant | open+close system calls | dup+close system calls |"
	echo "|---|---:|---:|"
	for v in raw none miss hit; do
		variant "$v"
		row="| $name |"
		for op in open dup; do
			n=$(COUNT=syscalls per_call "$op" "${envs[@]}")
			[ "$v" = raw ] && base[$op]=$n
			row+=" $n |"
			[[ $n =~ ^[0-9]+$ ]] || bad=77
			[ "$bad" = 77 ] || [ "$n" = "${base[$op]}" ] || bad=1
		done
		echo "$row"
	done
	return $bad
}

# --check-syscalls: only that table, as a test.
if [ -n "$check" ]; then
	syscall_table
	exit $?
fi

echo
echo "| Variant | open+close instructions | over raw | dup+close instructions | over raw |"
echo "|---|---:|---:|---:|---:|"
declare -A raw
for v in raw none miss hit; do
	variant "$v"
	set -- "${envs[@]}"
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

echo
syscall_table || :
