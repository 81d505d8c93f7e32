/* Streaming JSON writer, see jsonw.h. */
#include "jsonw.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void crs_jsonw_init(struct crs_jsonw *w, int fd)
{
	memset(w, 0, offsetof(struct crs_jsonw, buf));
	w->fd = fd;
}

int crs_jsonw_flush(struct crs_jsonw *w)
{
	size_t off = 0;

	while (!w->error && off < w->len) {
		ssize_t n = syscall(SYS_write, w->fd, w->buf + off, w->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			w->error = 1;
		else
			off += (size_t)n;
	}
	w->len = 0;
	return w->error ? -1 : 0;
}

static void put(struct crs_jsonw *w, const char *s, size_t n)
{
	while (n) {
		size_t room = sizeof(w->buf) - w->len, k = n < room ? n : room;

		memcpy(w->buf + w->len, s, k);
		w->len += k;
		s += k;
		n -= k;
		if (w->len == sizeof(w->buf))
			crs_jsonw_flush(w);
	}
}

static void puts_(struct crs_jsonw *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Separator before a value: a comma unless first in its container. */
static void value_prefix(struct crs_jsonw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth > 0 && w->depth <= CRS_JSONW_DEPTH) {
		if (w->need_comma[w->depth - 1])
			put(w, ",", 1);
		w->need_comma[w->depth - 1] = 1;
	}
}

static void open_(struct crs_jsonw *w, char c)
{
	value_prefix(w);
	put(w, &c, 1);
	if (w->depth < CRS_JSONW_DEPTH)
		w->need_comma[w->depth] = 0;
	else
		w->error = 1; /* would lose commas: refuse to write invalid JSON */
	w->depth++;
}

static void close_(struct crs_jsonw *w, char c)
{
	w->depth--;
	put(w, &c, 1);
}

void crs_jsonw_obj_begin(struct crs_jsonw *w) { open_(w, '{'); }
void crs_jsonw_obj_end(struct crs_jsonw *w) { close_(w, '}'); }
void crs_jsonw_arr_begin(struct crs_jsonw *w) { open_(w, '['); }
void crs_jsonw_arr_end(struct crs_jsonw *w) { close_(w, ']'); }

/*
 * Length of the well-formed UTF-8 sequence at p, or 0 (RFC 3629, table 3-7
 * of Unicode: no overlong forms, no surrogates U+D800..U+DFFF, nothing
 * above U+10FFFF; JSON readers refuse those).  A NUL ends the check early.
 */
static int utf8_len(const unsigned char *p)
{
	unsigned lo = 0x80, hi = 0xbf;
	int n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * JSON strings must be UTF-8.  A path is bytes: a byte that is not part of
 * valid UTF-8 is written as \u00XX (its Latin-1 reading), so the document
 * stays valid; such a name is shown, not used to find the file.
 */
static void quoted(struct crs_jsonw *w, const char *s)
{
	put(w, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		int n = utf8_len(p);

		if (n > 1) {
			put(w, (const char *)p, (size_t)n);
			p += n - 1;
		} else if (n == 0) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			put(w, esc, 6);
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\', esc[1] = (char)*p;
			put(w, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			put(w, esc, 6);
		} else {
			put(w, (const char *)p, 1);
		}
	}
	put(w, "\"", 1);
}

void crs_jsonw_key(struct crs_jsonw *w, const char *key)
{
	value_prefix(w);
	quoted(w, key);
	put(w, ":", 1);
	w->after_key = 1;
}

void crs_jsonw_str(struct crs_jsonw *w, const char *s)
{
	value_prefix(w);
	quoted(w, s ? s : "");
}

void crs_jsonw_int(struct crs_jsonw *w, int64_t v)
{
	char b[32];

	value_prefix(w);
	snprintf(b, sizeof(b), "%" PRId64, v);
	puts_(w, b);
}

void crs_jsonw_uint(struct crs_jsonw *w, uint64_t v)
{
	char b[32];

	value_prefix(w);
	snprintf(b, sizeof(b), "%" PRIu64, v);
	puts_(w, b);
}

void crs_jsonw_bool(struct crs_jsonw *w, int v)
{
	value_prefix(w);
	puts_(w, v ? "true" : "false");
}

void crs_jsonw_null(struct crs_jsonw *w)
{
	value_prefix(w);
	puts_(w, "null");
}

void crs_jsonw_kv_str(struct crs_jsonw *w, const char *key, const char *s)
{
	crs_jsonw_key(w, key);
	crs_jsonw_str(w, s);
}

void crs_jsonw_kv_int(struct crs_jsonw *w, const char *key, int64_t v)
{
	crs_jsonw_key(w, key);
	crs_jsonw_int(w, v);
}

void crs_jsonw_kv_uint(struct crs_jsonw *w, const char *key, uint64_t v)
{
	crs_jsonw_key(w, key);
	crs_jsonw_uint(w, v);
}

void crs_jsonw_kv_bool(struct crs_jsonw *w, const char *key, int v)
{
	crs_jsonw_key(w, key);
	crs_jsonw_bool(w, v);
}

void crs_jsonw_kv_hex(struct crs_jsonw *w, const char *key, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%" PRIx64, v);
	crs_jsonw_kv_str(w, key, b);
}
