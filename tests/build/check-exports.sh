#!/bin/sh
# check-exports.sh LIB MAP HEADER - the shim exports exactly the names its
# version script lists: nothing of the engine, config or libconfuse leaks
# out, and no hooked name is missing; and the names of the public API it
# exports (throttle_*) are exactly the functions the public header
# declares.
set -eu
lib=$1 map=$2 header=$3

# same WHAT A B: fails, showing the difference, unless the name lists A
# and B (one a line) are the same.
same() {
	[ "$2" = "$3" ] && return 0
	echo "$1 differ (< first, > second):"
	tmp=$(mktemp -d)
	echo "$2" > "$tmp/first"
	echo "$3" > "$tmp/second"
	diff "$tmp/first" "$tmp/second" || true
	rm -rf "$tmp"
	exit 1
}

exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TtWiV]$/ {print $3}' | sed 's/@.*//' | sort -u)
listed=$(sed -n '/global:/,/local:/p' "$map" | tr ' \t;' '\n\n\n' |
	grep -E '^[A-Za-z_][A-Za-z0-9_]*$' | grep -v -x -e global -e local | sort -u)
same "exported and listed names" "$exported" "$listed"
# open must stay open: meson's large-file default would have renamed it.
for name in open openat fcntl fopen; do
	echo "$exported" | grep -qx "$name" || { echo "missing $name"; exit 1; }
done
# The API: every throttle_ name exported is declared in the header, and
# every function the header declares is exported.
api_exported=$(echo "$exported" | grep '^throttle_' || true)
api_declared=$(grep -oE '^[a-z].*[ *]throttle_[a-z_]+\(' "$header" |
	grep -oE 'throttle_[a-z_]+\(' | tr -d '(' | sort -u)
[ -n "$api_declared" ] || { echo "no function found in $header"; exit 1; }
same "API names exported and declared in $header" "$api_exported" "$api_declared"
echo "1 passed, 0 failed: $(echo "$exported" | wc -l) names, as listed"
