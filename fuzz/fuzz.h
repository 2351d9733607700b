/*
 * fuzz - what sinkd's libFuzzer targets share
 *
 * Each target works in a scratch directory of its own, made once at start
 * and removed at exit, where it writes the configuration files it loads;
 * fixed files come from the source tree (FUZZ_TOP, set by the Makefile).
 * Diagnostics of sinkd's log go nowhere: an input is judged by the
 * sanitizers, and configuration errors by their form too: one line each,
 * naming the file (fuzz_check_errors()).
 *
 * Threading: called from the fuzzer's one thread only.
 */
#ifndef SINKD_FUZZ_H
#define SINKD_FUZZ_H

#include <stddef.h>

#include "../src/conf.h"

struct snapshot;

const char *fuzz_init(void);
char *fuzz_path(const char *rel);
void fuzz_mkdir(const char *rel);
void fuzz_copy(const char *top_rel, const char *rel);
void fuzz_write(const char *rel, const void *data, size_t len);
struct snapshot *fuzz_load(const char *rel, struct conf_errors *e);
struct snapshot *fuzz_ready(const char *rel, const char *who);
void fuzz_check_errors(const struct conf_errors *e);

#endif
