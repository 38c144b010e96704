# control.sh - the integration harness's control.sh (a case run without the
# shim must fail, with a FAIL line matching a pattern), except that a case
# that skips, for a program that is not installed, skips its control too.
#     bash control.sh PATTERN SCRIPT CASE VARIANT [ARGS...]
out=$(bash "$(dirname "$0")/../integration/control.sh" "$@")
rc=$?
echo "$out"
[ $rc -ne 0 ] && echo "$out" | grep -q "^control: .* exited 77 without the shim" &&
	exit 77
exit $rc
