/*
 * status - what the running daemon says of itself to a person
 *
 * status_render() writes the report sinkd -S prints (control.h carries
 * it): version, pid, uptime, the configuration generation and its files,
 * the handler chain, then one section per module that registered one:
 * status_register() takes a name and a function that appends its lines
 * (the clamav handler's engine and signatures, the counters).  Sections
 * come in the order registered; registering a name again replaces its
 * function.
 *
 * status_loaded() is told of each snapshot the daemon installs (start
 * and every reload), which makes the generation.
 *
 * Threading: status_register() and status_loaded() may be called from
 * any thread, and status_render() runs on the control thread; a section
 * function must be safe to call there at any time.
 */
#ifndef SINKD_STATUS_H
#define SINKD_STATUS_H

#include <glib.h>

struct snapshot;

typedef void (*status_fn)(GString *out);

void status_register(const char *section, status_fn fn);
void status_loaded(const struct snapshot *s);
void status_render(GString *out);
void status_reset(void);

#endif
