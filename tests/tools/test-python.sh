#!/usr/bin/env bash
# test-python.sh - the Python module throttle.Semaphore (shim/api/throttle.py)
# with the seed's example and its refusals, timeouts and signals
# (python-semaphore.py), once with the system's /usr/bin/python3 and once
# with the python3 first on PATH when that is another interpreter.
# Usage: test-python.sh THROTTLECTL LIBTHROTTLE MODULE SCRIPT
set -u
ctl=$(realpath "$1") lib=$(realpath "$2") module=$(realpath "$3") script=$(realpath "$4")
export THROTTLE_LIBRARY=$lib
export PYTHONPATH=$(dirname "$module")${PYTHONPATH:+:$PYTHONPATH}

# The interpreter a command runs, after wrappers such as pyenv's shims.
interpreter() {
	"$1" -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null
}

ran=() status=0
for python in /usr/bin/python3 python3; do
	real=$(interpreter "$python") || { echo "$python: not found, skipped"; continue; }
	if [[ " ${ran[*]} " == *" $real "* ]]; then
		echo "$python is $real again, skipped"
		continue
	fi
	ran+=("$real")
	echo "== $python ($real)"
	"$python" "$script" check "$ctl" || status=1
done
[ "${#ran[@]}" -gt 0 ] || { echo "FAIL: no python3 to test with"; exit 1; }
exit $status
