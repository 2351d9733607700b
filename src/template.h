/*
 * template - ${name} variables in configured texts
 *
 * tmpl_check() runs at load time, so a misspelt variable is a
 * configuration error with file and line, not a surprise in mail.
 * tmpl_expand() replaces each variable with what lookup() returns
 * (an unknown or NULL value expands to "unknown"); the caller decides how
 * values are made safe (edits.c removes CR/LF from header values).
 */
#ifndef SINKD_TEMPLATE_H
#define SINKD_TEMPLATE_H

typedef const char *(*tmpl_lookup)(const char *name, void *ctx);

int tmpl_check(const char *tmpl, const char *const *known, char **why);
char *tmpl_expand(const char *tmpl, tmpl_lookup lookup, void *ctx);

#endif
