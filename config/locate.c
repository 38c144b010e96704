/* locate.c - picks the config file for this process from THROTTLE_CONFIG,
 * THROTTLE_SERVICE or the program's name. No allocation; one stat(), and
 * one readlink() in a setuid or setgid program, whose argv[0] it must never
 * trust. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "message.h"

/* A service or program name must be a plain file name inside sysconfdir. */
static bool plain_name(const char *name)
{
	return name && name[0] != '\0' && name[0] != '.' && !strchr(name, '/');
}

static int in_sysconfdir(const char *sysconfdir, const char *name, char *out,
                         size_t outlen)
{
	int n;

	if (!sysconfdir)
		return -EINVAL;
	n = snprintf(out, outlen, "%s/%s.conf", sysconfdir, name);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

int thr_config_locate(const char *env_config, const char *env_service,
                      const char *progname, const char *sysconfdir,
                      char *out, size_t outlen)
{
	struct stat st;
	int rc;

	if (env_config && env_config[0] != '\0') {
		if (strlen(env_config) >= outlen)
			return -ENAMETOOLONG;
		memcpy(out, env_config, strlen(env_config) + 1);
		return 0;
	}
	if (env_service && env_service[0] != '\0') {
		if (!plain_name(env_service))
			return -EINVAL;
		return in_sysconfdir(sysconfdir, env_service, out, outlen);
	}
	if (!plain_name(progname))
		return -ENOENT;
	rc = in_sysconfdir(sysconfdir, progname, out, outlen);
	if (rc < 0)     /* argv[0] is anybody's: no config of that name */
		return rc == -ENAMETOOLONG ? -ENOENT : rc;
	if (stat(out, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (outlen > 0)
			out[0] = '\0';
		return -ENOENT;
	}
	return 0;
}

void thr_config_locate_error(int rc, const char *env_config,
                             const char *env_service, size_t outlen,
                             char *msg, size_t msglen)
{
	bool config = env_config && env_config[0] != '\0';

	if (rc == -ENAMETOOLONG && config)
		snprintf(msg, msglen, "THROTTLE_CONFIG is %zu bytes long, "
		         "longer than a path may be (%zu)", strlen(env_config),
		         outlen - 1);
	else if (rc == -ENAMETOOLONG)
		snprintf(msg, msglen, "THROTTLE_SERVICE is %zu bytes long: its "
		         "file's path would be longer than a path may be (%zu)",
		         env_service ? strlen(env_service) : 0, outlen - 1);
	else if (rc == -EINVAL && !config && env_service)
		snprintf(msg, msglen, "THROTTLE_SERVICE='%s' is not a service "
		         "name", env_service);
	else if (rc < 0 && rc != -ENOENT)
		snprintf(msg, msglen, "cannot find the config: %s",
		         strerror(-rc));
	else
		snprintf(msg, msglen, "%s", "");
	thr_message_clean(msg, 0);
}

const char *thr_config_progname(char *buf, size_t len)
{
	static const char deleted[] = " (deleted)";
	const char *slash;
	ssize_t n;

	if (!getauxval(AT_SECURE))
		return program_invocation_short_name;
	if (len < 2)
		return NULL;
	n = readlink("/proc/self/exe", buf, len - 1);
	if (n <= 0 || (size_t)n == len - 1)
		return NULL;    /* unreadable, or perhaps cut short */
	buf[n] = '\0';
	if ((size_t)n >= sizeof(deleted) - 1 &&
	    strcmp(buf + n - (sizeof(deleted) - 1), deleted) == 0)
		return NULL;
	slash = strrchr(buf, '/');
	return slash ? slash + 1 : buf;
}
