# throttle.bash - bash completion for throttle: its options, config files
# after -c, service names after -s, then a command and what that command
# completes. It only fills COMPREPLY; it must never run anything.

# Where -s SERVICE's files are (the build's confdir; /etc/throttle unless
# it was configured otherwise).
_throttle_confdir=${_throttle_confdir:-/etc/throttle}

# The services there are: the names of confdir's *.conf files.
_throttle_services()
{
	local f
	for f in "$_throttle_confdir"/*.conf; do
		[ -f "$f" ] || continue
		f=${f##*/}
		printf '%s\n' "${f%.conf}"
	done
}

_throttle()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local i word cmd= IFS=$'\n'
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		case $word in
		-c | --config | -s | --service) ((i++)) ;;
		--) cmd=$((i + 1)); break ;;
		-*) ;;
		*) cmd=$i; break ;;
		esac
	done
	if [ -n "$cmd" ] && [ "$cmd" -lt "$COMP_CWORD" ]; then
		if declare -F _command_offset >/dev/null; then
			_command_offset "$cmd"
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return
	fi
	case $prev in
	-c | --config)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	-s | --service)
		COMPREPLY=($(compgen -W "$(_throttle_services)" -- "$cur"))
		return ;;
	esac
	if [ -z "$cmd" ] && [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(printf '%s\n' -c --config -s --service \
			-q --quiet -h --help --version --)" -- "$cur"))
	else
		COMPREPLY=($(compgen -c -- "$cur"))
	fi
}
complete -F _throttle throttle
