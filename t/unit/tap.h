/*
 * tap - TAP output for sinkd's C unit tests
 */
#ifndef SINKD_TAP_H
#define SINKD_TAP_H

int tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tap_is_int(long long got, long long want, const char *what);
int tap_is_str(const char *got, const char *want, const char *what);
int tap_done(void);

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define is_int(g, w, what) tap_is_int((g), (w), (what))
#define is_str(g, w, what) tap_is_str((g), (w), (what))

#endif
