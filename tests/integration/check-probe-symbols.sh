# check-probe-symbols.sh - each probe binary calls the libc entry point its build
# is meant to reach (the table in meson.build): the fortify builds must
# reach __open_2 and friends, the lfs builds the *64 names.
#     bash check-probe-symbols.sh NM BINARY:SYMBOL...
nm=$1
shift
bad=0
for spec in "$@"; do
	bin=${spec%:*}
	sym=${spec##*:}
	if ! "$nm" -D --undefined-only "$bin" | grep -Eq "[[:space:]]U ${sym}(@|\$)"; then
		echo "${bin##*/}: does not call $sym; it calls:"
		"$nm" -D --undefined-only "$bin" | grep -E 'open|creat|close|dup|fcntl|connect|fork|exec'
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "all $# probe builds call their entry point"
exit $bad
