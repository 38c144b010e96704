/* probe-freopen64.c - freopen64() both ways. By default each call reopens a stream on
 * /dev/null onto TARGET (freopen64(path, mode, stream)), taking a slot, and
 * fclose() gives it back. With -x the slot is taken by fopen(TARGET) and given
 * back by freopen64("/dev/null", "r", stream), an implicit close: the stream
 * stays open on /dev/null through LINGER. */
#define PROBE_CALL freopen64
#define PROBE_NAME "freopen64"
#include "probe-freopen.c"
