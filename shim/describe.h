/* describe.h - what a connect() reaches, written the way a destination rule
 * is: "10.0.0.5:5432", "[2001:db8::1]:5432", "unix:/run/x.sock",
 * "unix:@name" (abstract), for the holder records. */
#ifndef THR_DESCRIBE_H
#define THR_DESCRIBE_H

#include <stddef.h>
#include <sys/socket.h>

/* Writes sa (len bytes) into out (n >= 1 bytes), NUL-terminated and cut to
 * fit: IPv6 as inet_ntop writes it (zero runs folded, mapped IPv4 dotted),
 * any family it does not know as "family N". Returns the length written.
 * Never allocates or touches errno; async-signal-safe. */
size_t thr_describe_sockaddr(const struct sockaddr *sa, socklen_t len,
                             char *out, size_t n);

#endif
