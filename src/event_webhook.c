/*
 * event_webhook - the webhook event target: each event POSTed as JSON
 *
 * [event:NAME] with type = webhook, url = https://host/path: each event
 * is the body of a POST (Content-Type: application/json) carrying the
 * event's key in an Idempotency-Key header field.  A 2xx status is
 * delivered; 408, 429, any 5xx, and no answer (refused, reset, timeout,
 * TLS failure) are tried again later; other statuses (a 4xx, a redirect,
 * which is not followed) refuse the event for good.  The connection is
 * kept between events (one libcurl handle per target, on the target's
 * own thread).
 */
#include <string.h>
#include <curl/curl.h>
#include <glib.h>

#include "event.h"

#ifndef SINKD_VERSION
#define SINKD_VERSION "0.1"
#endif

/* documented in sinkd-events(5), THE WEBHOOK TARGET */
static const struct conf_key webhook_keys[] = {
	{"url", CONF_STRING, "", .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "where events are POSTed: http:// or https:// URL"},
	{"timeout", CONF_TIME, "10s", 1, 3600, .flags = CONF_NODOMAIN | CONF_RESTART,
	 .doc = "how long one delivery may take, connecting included"},
	{NULL},
};

struct webhook {
	char *url;
	long timeout;
	CURL *curl;		/* made at the first delivery */
};

/* discard - the response body is not read */
static size_t
discard(char *p, size_t size, size_t n, void *unused)
{
	(void) p;
	(void) unused;
	return size * n;
}

/* webhook_open - check url; the handle */
static void *
webhook_open(const struct conf_group *g, struct conf_errors *e)
{
	static gsize once;
	const char *url = conf_str(g, "url");
	struct webhook *w;
	CURLU *u;
	char *scheme = NULL;
	CURLUcode rc;

	if (g_once_init_enter(&once)) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		g_once_init_leave(&once, 1);
	}
	if (*url == 0) {
		/* at the type's line: url is set nowhere */
		conf_key_error(e, g, "type", "a webhook needs a url (url = https://...)");
		return NULL;
	}
	u = curl_url();
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_cleanup(u);
	if (rc != CURLUE_OK || (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		conf_key_error(e, g, "url", "\"%s\": not an http:// or https:// URL", url);
		curl_free(scheme);
		return NULL;
	}
	curl_free(scheme);
	w = g_new0(struct webhook, 1);
	w->url = g_strdup(url);
	w->timeout = (long) conf_num(g, "timeout");
	return w;
}

/* webhook_deliver - POST the event; see the head of the file */
static enum event_result
webhook_deliver(void *handle, const struct event *ev, char **why)
{
	struct webhook *w = handle;
	struct curl_slist *hdrs = NULL;
	char err[CURL_ERROR_SIZE] = "", *key;
	long status = 0;
	CURLcode rc;

	if (w->curl == NULL && (w->curl = curl_easy_init()) == NULL) {
		*why = g_strdup("cannot make a libcurl handle");
		return EVENT_RETRY;
	}
	key = g_strconcat("Idempotency-Key: ", ev->key, NULL);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, key);
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(w->curl, CURLOPT_URL, w->url);
	curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT, w->timeout);
	curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "sinkd/" SINKD_VERSION);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, ev->json);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) ev->len);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, err);
	rc = curl_easy_perform(w->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	g_free(key);
	if (rc != CURLE_OK) {
		*why = g_strdup_printf("%s: %s", w->url, *err ? err : curl_easy_strerror(rc));
		return EVENT_RETRY;
	}
	if (status >= 200 && status < 300)
		return EVENT_DONE;
	*why = g_strdup_printf("%s: HTTP status %ld", w->url, status);
	if (status == 408 || status == 429 || status >= 500)
		return EVENT_RETRY;
	return EVENT_FAIL;
}

/* webhook_close - the handle and its connection */
static void
webhook_close(void *handle)
{
	struct webhook *w = handle;

	if (w == NULL)
		return;
	if (w->curl)
		curl_easy_cleanup(w->curl);
	g_free(w->url);
	g_free(w);
}

const struct event_type event_webhook = {
	.name = "webhook",
	.keys = webhook_keys,
	.open = webhook_open,
	.deliver = webhook_deliver,
	.close = webhook_close,
};
