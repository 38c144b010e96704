/* test-clock.c - the engine's clock: the vDSO's clock_gettime found when
 * asked, the same time as libc's by either way, and errno kept. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/auxv.h>

#include "clock.h"

/* Not CLOCK_REALTIME, which a time step may move back between reads. */
static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE,
                                    CLOCK_BOOTTIME };

static uint64_t libc_ns(clockid_t clk)
{
	struct timespec ts;
	assert_int_equal(clock_gettime(clk, &ts), 0);
	return thr_clock_ts_ns(&ts);
}

/* Every clock reads between two libc reads of it. */
static void check_agrees(void)
{
	for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		uint64_t before = libc_ns(clocks[i]);
		uint64_t ours = thr_clock_ns(clocks[i]);
		uint64_t after = libc_ns(clocks[i]);
		assert_true(before <= ours);
		assert_true(ours <= after);
	}
}

static void check_keeps_errno(void)
{
	errno = EILSEQ;
	assert_int_not_equal(thr_clock_ns(CLOCK_MONOTONIC), 0);
	assert_int_equal(errno, EILSEQ);
	/* A clock nobody has: the vDSO refuses, then libc fails. */
	assert_int_equal(thr_clock_ns((clockid_t)12345), 0);
	assert_int_equal(errno, EILSEQ);
}

/* Nothing is looked up at load: a program that never attaches a pool
 * never pays for it. First, before anything asks. */
static void test_clock_looks_up_only_when_asked(void **state)
{
	assert_null(thr_clock_vdso);
	assert_int_not_equal(thr_clock_ns(CLOCK_MONOTONIC), 0);
	assert_null(thr_clock_vdso);
}

static void test_clock_finds_vdso(void **state)
{
	thr_clock_find();
#if defined(__x86_64__) || defined(__aarch64__)
	if (!getauxval(AT_SYSINFO_EHDR))
		skip(); /* no vDSO here (valgrind) */
	assert_non_null(thr_clock_vdso);
	struct timespec ts = { 0, 0 };
	assert_int_equal(thr_clock_vdso(CLOCK_MONOTONIC, &ts), 0);
	assert_true(ts.tv_sec > 0 || ts.tv_nsec > 0);
#else
	skip();
#endif
}

static void test_clock_agrees_with_libc(void **state)
{
	check_agrees();
}

static void test_clock_keeps_errno(void **state)
{
	check_keeps_errno();
}

static void test_clock_falls_back_to_libc(void **state)
{
	thr_clock_fn found = thr_clock_vdso;
	thr_clock_vdso = NULL;
	check_agrees();
	check_keeps_errno();
	thr_clock_vdso = found;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_looks_up_only_when_asked),
		cmocka_unit_test(test_clock_finds_vdso),
		cmocka_unit_test(test_clock_agrees_with_libc),
		cmocka_unit_test(test_clock_keeps_errno),
		cmocka_unit_test(test_clock_falls_back_to_libc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
