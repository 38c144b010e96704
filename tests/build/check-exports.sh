#!/bin/sh
# check-exports.sh LIB MAP HEADER - the shim exports exactly the names its
# version script lists: nothing of the engine, config or libconfuse leaks
# out, and no hooked name is missing; and the names of the public API it
# exports (throttle_*) are exactly the functions the public header
# declares.
set -eu
lib=$1 map=$2 header=$3
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TtWiV]$/ {print $3}' | sed 's/@.*//' | sort -u)
listed=$(sed -n '/global:/,/local:/p' "$map" | tr ' \t;' '\n\n\n' |
	grep -E '^[A-Za-z_][A-Za-z0-9_]*$' | grep -v -x -e global -e local | sort -u)
if [ "$exported" != "$listed" ]; then
	echo "exported and listed names differ (< exported, > listed):"
	tmp=$(mktemp -d)
	echo "$exported" > "$tmp/exported"
	echo "$listed" > "$tmp/listed"
	diff "$tmp/exported" "$tmp/listed" || true
	rm -rf "$tmp"
	exit 1
fi
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
if [ "$api_exported" != "$api_declared" ]; then
	echo "API names exported and declared in $header differ (< exported, > declared):"
	tmp=$(mktemp -d)
	echo "$api_exported" > "$tmp/exported"
	echo "$api_declared" > "$tmp/declared"
	diff "$tmp/exported" "$tmp/declared" || true
	rm -rf "$tmp"
	exit 1
fi
echo "1 passed, 0 failed: $(echo "$exported" | wc -l) names, as listed"
