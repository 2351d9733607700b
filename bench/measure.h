/*
 * measure.h - the clocks and the percentile the load tools of bench/
 *	share (milterload, smtpload, clamloop); included once by each
 */
#ifndef SINKD_BENCH_MEASURE_H
#define SINKD_BENCH_MEASURE_H

#include <sys/resource.h>
#include <stddef.h>
#include <time.h>

/* now_ms - a monotonic clock, in milliseconds */
static inline double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* cpu_ms - user and system time of this process so far, milliseconds */
static inline double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* cmp_double - qsort(3) order of doubles */
static inline int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

/* pctl - the p-th percentile (0 to 100), nearest rank, of sorted v */
static inline double
pctl(const double *v, size_t n, double p)
{
	size_t r;

	if (n == 0)
		return 0;
	r = (size_t) (p / 100.0 * (double) n + 0.999999);
	if (r < 1)
		r = 1;
	return v[(r > n ? n : r) - 1];
}

#endif
