/*
 * scan - what a virus scan found, whichever backend ran it
 *
 * The embedded engine (milters/engine.h) and the clamd pool
 * (milters/clamd.h) both fill a struct scan_result; the clamav handler
 * turns it into the domain's action, on-limit or on-error.
 */
#ifndef SINKD_SCAN_H
#define SINKD_SCAN_H

enum scan_status {
	SCAN_CLEAN,		/* scanned whole, nothing found */
	SCAN_VIRUS,		/* name: the signature */
	SCAN_LIMIT,		/* a scan limit was hit; name: which */
	SCAN_ERROR,		/* not scanned; name: why */
};

struct scan_result {
	enum scan_status status;
	char name[256];		/* printable ASCII only, NUL-terminated */
	char server[128];	/* clamd: the server that answered, or "" */
};

void scan_set(struct scan_result *r, enum scan_status st, const char *name);

#endif
