/*
 * fuzz_jsonw: the shim's streaming JSON writer (preload/jsonw.c), round
 * trip through jansson.
 *
 * The input drives a generator that writes a document of nested objects and
 * arrays whose keys and strings are arbitrary bytes taken from the input
 * (paths are bytes, not UTF-8), plus integers, booleans, nulls and "0x..."
 * strings, through crs_jsonw_*.  The same document is built as jansson
 * values, with every string as the writer documents it: valid UTF-8 kept,
 * any other byte read as Latin-1 (U+00XX).  Asserted:
 *   - a document at most CRS_JSONW_DEPTH deep is written without error,
 *     parses with jansson (strict: valid UTF-8, one document) and equals the
 *     expected value;
 *   - a deeper one sets the writer's error flag instead (never invalid JSON
 *     presented as valid).
 */
#include "jsonw.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned take(struct in *in)
{
	unsigned v;

	if (!in->n)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

/* A NUL-terminated string of the next L bytes (L from the input). */
static char *take_str(struct in *in)
{
	size_t len = take(in) % 40, i;
	char *s;

	if (len > in->n)
		len = in->n;
	s = malloc(len + 1);
	for (i = 0; i < len; i++) {
		s[i] = (char)(in->p[i] ? in->p[i] : 'z'); /* C strings: no NUL inside */
	}
	s[len] = 0;
	in->p += len;
	in->n -= len;
	return s;
}

/* Length of a well-formed UTF-8 sequence at p (RFC 3629), or 0. */
static int utf8_ok(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		unsigned lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		unsigned lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* The string a reader must get back for the bytes s (see jsonw.c). */
static json_t *expected_string(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *u = malloc(2 * n + 1);
	json_t *j;

	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		int k = utf8_ok(p);

		if (k > 0) {
			memcpy(u + o, p, (size_t)k);
			o += (size_t)k;
			p += k;
		} else { /* Latin-1: U+0080..U+00FF as two bytes */
			u[o++] = (char)(0xc0 | (*p >> 6));
			u[o++] = (char)(0x80 | (*p & 0x3f));
			p++;
		}
	}
	u[o] = 0;
	j = json_stringn(u, o);
	free(u);
	if (!j)
		abort(); /* our own expectation must be valid UTF-8 */
	return j;
}

static int max_depth; /* deepest container written */

/* Write one value; build the same value into *exp. */
static void gen_value(struct crs_jsonw *w, struct in *in, int depth, json_t **exp)
{
	unsigned op = take(in) % 8;

	if (depth >= 80 && op != 2 && op < 7)
		op = 2;
	if ((op == 0 || op == 1 || op >= 7) && depth > max_depth)
		max_depth = depth; /* containers only: the writer's depth */
	switch (op) {
	case 0: { /* object */
		unsigned n = take(in) % 5;
		json_t *o = json_object();

		crs_jsonw_obj_begin(w);
		for (unsigned i = 0; i < n && in->n; i++) {
			char *k = take_str(in);
			json_t *ek = expected_string(k), *v = NULL;
			char *key;

			/* A fresh key each time: duplicate keys are legal JSON, but
			 * a reader keeps only one of them. */
			if (asprintf(&key, "%u:%s", i, k) < 0)
				abort();
			json_decref(ek);
			ek = expected_string(key);
			crs_jsonw_key(w, key);
			gen_value(w, in, depth + 1, &v);
			json_object_set_new(o, json_string_value(ek), v);
			json_decref(ek);
			free(key);
			free(k);
		}
		crs_jsonw_obj_end(w);
		*exp = o;
		break;
	}
	case 1: { /* array */
		unsigned n = take(in) % 5;
		json_t *a = json_array();

		crs_jsonw_arr_begin(w);
		for (unsigned i = 0; i < n && in->n; i++) {
			json_t *v = NULL;

			gen_value(w, in, depth + 1, &v);
			json_array_append_new(a, v);
		}
		crs_jsonw_arr_end(w);
		*exp = a;
		break;
	}
	case 2: {
		char *s = take_str(in);

		crs_jsonw_str(w, s);
		*exp = expected_string(s);
		free(s);
		break;
	}
	case 3: {
		int64_t v = (int64_t)(((uint64_t)take(in) << 56 | (uint64_t)take(in) << 24 | take(in)) & INT64_MAX);

		if (take(in) & 1)
			v = -v - 1; /* down to INT64_MIN */
		crs_jsonw_int(w, v);
		*exp = json_integer(v);
		break;
	}
	case 4: {
		uint64_t v = (uint64_t)take(in) << 8 | take(in);

		crs_jsonw_uint(w, v); /* within json_int_t */
		*exp = json_integer((json_int_t)v);
		break;
	}
	case 5: {
		int b = take(in) & 1;

		crs_jsonw_bool(w, b);
		*exp = json_boolean(b);
		break;
	}
	case 6:
		crs_jsonw_null(w);
		*exp = json_null();
		break;
	default: { /* a hex address inside an object, as the records do */
		uint64_t v = (uint64_t)take(in) << 40 | (uint64_t)take(in) << 12;
		char b[24];

		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_hex(w, "a", v);
		crs_jsonw_obj_end(w);
		snprintf(b, sizeof(b), "0x%" PRIx64, v);
		*exp = json_pack("{s:s}", "a", b);
		break;
	}
	}
}

static struct crs_jsonw W;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	int fd = memfd_create("fuzz-jsonw", MFD_CLOEXEC);
	json_t *exp = NULL, *got;
	json_error_t je;
	char *text;
	off_t len;

	if (fd < 0)
		abort();
	max_depth = 0;
	crs_jsonw_init(&W, fd);
	gen_value(&W, &in, 1, &exp);
	crs_jsonw_flush(&W);
	len = lseek(fd, 0, SEEK_END);
	text = malloc((size_t)len + 1);
	if (pread(fd, text, (size_t)len, 0) != len)
		abort();
	text[len] = 0;
	close(fd);
	if (max_depth > CRS_JSONW_DEPTH) {
		if (!W.error) {
			fprintf(stderr, "depth %d > %d written without error\n", max_depth, CRS_JSONW_DEPTH);
			abort();
		}
	} else {
		if (W.error) {
			fprintf(stderr, "writer error at depth %d\n", max_depth);
			abort();
		}
		got = json_loadb(text, (size_t)len, JSON_DECODE_ANY, &je);
		if (!got) {
			fprintf(stderr, "invalid JSON (%s at %d): %.*s\n", je.text, je.position, (int)len, text);
			abort();
		}
		if (!json_equal(got, exp)) {
			char *e = json_dumps(exp, JSON_ENCODE_ANY);

			fprintf(stderr, "round trip differs:\n wrote %s\n wanted %s\n", text, e);
			abort();
		}
		json_decref(got);
	}
	json_decref(exp);
	free(text);
	return 0;
}
