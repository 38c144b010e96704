# control.sh - proof that a case can fail: runs it without the shim and passes
# only if it then fails, with a FAIL line matching PATTERN.
#     bash control.sh PATTERN SCRIPT CASE VARIANT [ARGS...]
pattern=$1
shift
out=$(THR_SHIM= bash "$@" 2>&1)
rc=$?
if [ $rc -ne 1 ]; then
	echo "control: '$*' exited $rc without the shim; it must fail (1)"
	echo "$out"
	exit 1
fi
if ! echo "$out" | grep -E '^FAIL: ' | grep -Eq -- "$pattern"; then
	echo "control: '$*' failed, but not with a FAIL line matching '$pattern'"
	echo "$out"
	exit 1
fi
echo "control: without the shim, as it must:"
echo "$out" | grep -E '^FAIL: '
