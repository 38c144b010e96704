#!/bin/sh
# check-exports.sh LIB MAP - the shim exports exactly the names its version
# script lists: nothing of the engine, config or libconfuse leaks out, and
# no hooked name is missing.
set -eu
lib=$1 map=$2
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
echo "1 passed, 0 failed: $(echo "$exported" | wc -l) names, as listed"
