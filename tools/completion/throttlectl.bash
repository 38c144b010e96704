# throttlectl.bash - bash completion for throttlectl: verbs, each verb's
# options, pool names (from /dev/shm/throttle.*) where a verb takes pools,
# files for check, a command for run. It only fills COMPREPLY; it must never
# run throttlectl or touch a pool.

# The pools there are, by name: the segments' file names without "throttle.".
_throttlectl_pools()
{
	local f
	for f in /dev/shm/throttle.*; do
		[ -e "$f" ] && printf '%s\n' "${f#/dev/shm/throttle.}"
	done
}

# Fills COMPREPLY with the words of $1 (one a line) that start with $2.
_throttlectl_reply()
{
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$1" -- "$2"))
}

# run POOL [--limit N] [-t SECS | --fail] [--] COMMAND [ARGS...]: options
# and the pool, then a command, then what that command completes.
_throttlectl_run()
{
	local cur=$1 prev=$2 i word pool= cmd=
	for ((i = 2; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		case $word in
		--limit | -t | --timeout) ((i++)) ;;
		--) [ -n "$pool" ] && { cmd=$((i + 1)); break; } ;;
		-*) ;;
		*) if [ -z "$pool" ]; then pool=$word; else cmd=$i; break; fi ;;
		esac
	done
	case $prev in
	--limit | -t | --timeout) COMPREPLY=(); return ;;
	esac
	if [ -n "$cmd" ] && [ "$cmd" -lt "$COMP_CWORD" ]; then
		if declare -F _command_offset >/dev/null; then
			_command_offset "$cmd"
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
	elif [ -n "$cmd" ] || { [ -n "$pool" ] && [[ $cur != -* ]]; }; then
		COMPREPLY=($(compgen -c -- "$cur"))
	elif [[ $cur == -* ]]; then
		_throttlectl_reply "--limit"$'\n'"-t"$'\n'"--timeout"$'\n'"--fail"$'\n'"--help"$'\n'"--" "$cur"
	else
		_throttlectl_reply "$(_throttlectl_pools)" "$cur"
	fi
}

_throttlectl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local verbs="status top metrics set-limit reclaim remove check run"
	local verb=${COMP_WORDS[1]} opts
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		_throttlectl_reply "$(printf '%s\n' $verbs --help --version)" "$cur"
		return
	fi
	case $verb in
	status) opts="--json" ;;
	top)
		[[ $prev == -d || $prev == -n ]] && return
		opts="-d"$'\n'"-n" ;;
	metrics)
		if [ "$prev" = --textfile ]; then
			COMPREPLY=($(compgen -d -- "$cur"))
			return
		fi
		opts="--textfile" ;;
	set-limit)
		# POOL N: a pool first, then a number nobody can guess
		[ "$COMP_CWORD" -gt 2 ] && [[ $cur != -* ]] && return
		opts="" ;;
	reclaim) opts="" ;;
	remove) opts="--force" ;;
	check)
		if [[ $cur == -* ]]; then
			_throttlectl_reply "--help" "$cur"
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return ;;
	run) _throttlectl_run "$cur" "$prev"; return ;;
	*) return ;;
	esac
	if [[ $cur == -* ]]; then
		_throttlectl_reply "${opts:+$opts$'\n'}--help" "$cur"
	else
		_throttlectl_reply "$(_throttlectl_pools)" "$cur"
	fi
}
complete -F _throttlectl throttlectl
