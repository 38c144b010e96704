#!/bin/sh
# test-layout.sh NATIVE M32 - the segment layout is the same for 64- and
# 32-bit processes: every field at the same offset with the same size.
set -eu
"$1" > "${TMPDIR:-/tmp}/layout64.$$"
"$2" > "${TMPDIR:-/tmp}/layout32.$$"
if diff "${TMPDIR:-/tmp}/layout64.$$" "${TMPDIR:-/tmp}/layout32.$$"; then
	n=$(wc -l < "${TMPDIR:-/tmp}/layout64.$$")
	rm -f "${TMPDIR:-/tmp}/layout64.$$" "${TMPDIR:-/tmp}/layout32.$$"
	echo "1 passed, 0 failed: $n lines identical for 64- and 32-bit"
else
	rm -f "${TMPDIR:-/tmp}/layout64.$$" "${TMPDIR:-/tmp}/layout32.$$"
	echo "0 passed, 1 failed: layouts differ (< 64-bit, > 32-bit)"
	exit 1
fi
