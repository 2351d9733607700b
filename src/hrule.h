/*
 * hrule - "Name: template" header-field rules from a configuration list
 *
 * hrule_load() parses each entry of a list key into a field name (checked
 * with edits_header_name_ok) and a value template (checked with
 * tmpl_check against msg_variables), reporting bad entries as
 * "file:line: key: ...".  hrule_value() expands a rule for a message; a
 * value with 8-bit text comes back RFC 2047-encoded (UTF-8), so that the
 * header stays 7-bit; edits.c makes CR and LF safe.
 */
#ifndef SINKD_HRULE_H
#define SINKD_HRULE_H

#include <glib.h>

#include "conf.h"

struct msg;

struct hrule {
	char *name;
	char *tmpl;
};

/* a GPtrArray of struct hrule *, freed with g_ptr_array_unref() */
GPtrArray *hrule_load(const struct conf_group *g, const char *key,
		      struct conf_errors *e);
char *hrule_value(const struct hrule *r, struct msg *m);
char *hrule_encode(const char *utf8);

#endif
