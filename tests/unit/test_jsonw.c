/*
 * Unit tests of the streaming JSON writer (preload/jsonw.c).  Output goes to
 * a temporary file (or a pipe) and is read back, compared, and parsed with
 * jansson to prove it is valid JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jsonw.h"

/* ------------------------------------------------------------------ */
/* helpers                                                            */
/* ------------------------------------------------------------------ */

static struct crs_jsonw W;

struct out {
	char *buf;
	size_t len;
};

static int out_fd = -1;

static struct crs_jsonw *begin(void)
{
	out_fd = memfd_create("jsonw-test", MFD_CLOEXEC);
	assert_true(out_fd >= 0);
	crs_jsonw_init(&W, out_fd);
	return &W;
}

/* Flush, read everything written, close. */
static struct out finish(struct crs_jsonw *w)
{
	struct out o = { 0 };
	off_t size;

	assert_int_equal(crs_jsonw_flush(w), 0);
	assert_int_equal(w->error, 0);
	assert_int_equal(w->depth, 0);
	size = lseek(out_fd, 0, SEEK_END);
	assert_true(size >= 0);
	o.len = (size_t)size;
	o.buf = malloc(o.len + 1);
	assert_non_null(o.buf);
	assert_int_equal(pread(out_fd, o.buf, o.len, 0), (ssize_t)o.len);
	o.buf[o.len] = 0;
	close(out_fd);
	out_fd = -1;
	return o;
}

static json_t *parse_ok(const struct out *o)
{
	json_error_t err;
	json_t *j = json_loadb(o->buf, o->len, JSON_DECODE_ANY, &err);

	if (!j)
		print_message("jansson: %s at line %d col %d (pos %d) in %.200s\n", err.text, err.line, err.column,
			      err.position, o->buf);
	assert_non_null(j);
	return j;
}

static void expect_text(const struct out *o, const char *text)
{
	if (strcmp(o->buf, text) != 0)
		print_message("got:    %s\nwanted: %s\n", o->buf, text);
	assert_string_equal(o->buf, text);
}

/* ------------------------------------------------------------------ */
/* structure                                                          */
/* ------------------------------------------------------------------ */

static void test_scalars_and_commas(void **state)
{
	struct crs_jsonw *w = begin();
	struct out o;
	json_t *j;

	(void)state;
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_int(w, "a", 1);
	crs_jsonw_kv_str(w, "b", "x");
	crs_jsonw_kv_bool(w, "c", 1);
	crs_jsonw_kv_bool(w, "c2", 0);
	crs_jsonw_key(w, "d");
	crs_jsonw_null(w);
	crs_jsonw_kv_int(w, "e", -5);
	crs_jsonw_kv_uint(w, "u", 7);
	crs_jsonw_key(w, "f");
	crs_jsonw_arr_begin(w);
	crs_jsonw_int(w, 1);
	crs_jsonw_uint(w, 2);
	crs_jsonw_str(w, "3");
	crs_jsonw_bool(w, 1);
	crs_jsonw_null(w);
	crs_jsonw_arr_end(w);
	crs_jsonw_key(w, "g");
	crs_jsonw_obj_begin(w);
	crs_jsonw_obj_end(w);
	crs_jsonw_kv_str(w, "h", NULL);
	crs_jsonw_obj_end(w);
	o = finish(w);
	expect_text(&o, "{\"a\":1,\"b\":\"x\",\"c\":true,\"c2\":false,\"d\":null,\"e\":-5,\"u\":7,"
			"\"f\":[1,2,\"3\",true,null],\"g\":{},\"h\":\"\"}");
	j = parse_ok(&o);
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
	assert_true(json_is_true(json_object_get(j, "c")));
	assert_true(json_is_null(json_object_get(j, "d")));
	assert_int_equal(json_array_size(json_object_get(j, "f")), 5);
	assert_int_equal(json_object_size(json_object_get(j, "g")), 0);
	json_decref(j);
	free(o.buf);
}

static void test_nesting(void **state)
{
	struct crs_jsonw *w = begin();
	struct out o;
	json_t *j;

	(void)state;
	/* [[],[[]],{},{"a":[{}, {"b":[1,[2,3]]}]},[{},{}],4] */
	crs_jsonw_arr_begin(w);
	crs_jsonw_arr_begin(w);
	crs_jsonw_arr_end(w);
	crs_jsonw_arr_begin(w);
	crs_jsonw_arr_begin(w);
	crs_jsonw_arr_end(w);
	crs_jsonw_arr_end(w);
	crs_jsonw_obj_begin(w);
	crs_jsonw_obj_end(w);
	crs_jsonw_obj_begin(w);
	crs_jsonw_key(w, "a");
	crs_jsonw_arr_begin(w);
	crs_jsonw_obj_begin(w);
	crs_jsonw_obj_end(w);
	crs_jsonw_obj_begin(w);
	crs_jsonw_key(w, "b");
	crs_jsonw_arr_begin(w);
	crs_jsonw_int(w, 1);
	crs_jsonw_arr_begin(w);
	crs_jsonw_int(w, 2);
	crs_jsonw_int(w, 3);
	crs_jsonw_arr_end(w);
	crs_jsonw_arr_end(w);
	crs_jsonw_obj_end(w);
	crs_jsonw_arr_end(w);
	crs_jsonw_obj_end(w);
	crs_jsonw_arr_begin(w);
	crs_jsonw_obj_begin(w);
	crs_jsonw_obj_end(w);
	crs_jsonw_obj_begin(w);
	crs_jsonw_obj_end(w);
	crs_jsonw_arr_end(w);
	crs_jsonw_int(w, 4);
	crs_jsonw_arr_end(w);
	o = finish(w);
	expect_text(&o, "[[],[[]],{},{\"a\":[{},{\"b\":[1,[2,3]]}]},[{},{}],4]");
	j = parse_ok(&o);
	assert_int_equal(json_array_size(j), 6);
	json_decref(j);
	free(o.buf);
}

/* The deepest nesting the writer tracks, with several values per level. */
static void test_max_depth(void **state)
{
	struct crs_jsonw *w = begin();
	struct out o;
	json_t *j, *p;

	(void)state;
	for (int d = 0; d < CRS_JSONW_DEPTH; d++) {
		crs_jsonw_arr_begin(w);
		crs_jsonw_int(w, d);
		crs_jsonw_str(w, "x");
	}
	for (int d = 0; d < CRS_JSONW_DEPTH; d++) {
		crs_jsonw_int(w, 100 + d);
		crs_jsonw_arr_end(w);
	}
	o = finish(w);
	j = parse_ok(&o);
	p = j;
	for (int d = 0; d < CRS_JSONW_DEPTH; d++) {
		size_t n = json_array_size(p);

		assert_int_equal(n, d == CRS_JSONW_DEPTH - 1 ? 3 : 4);
		assert_int_equal(json_integer_value(json_array_get(p, 0)), d);
		assert_int_equal(json_integer_value(json_array_get(p, n - 1)), 100 + CRS_JSONW_DEPTH - 1 - d);
		if (d < CRS_JSONW_DEPTH - 1)
			p = json_array_get(p, 2);
	}
	json_decref(j);
	free(o.buf);
}

/* Several top-level values in a row (a stream): no commas between them. */
static void test_top_level_sequence(void **state)
{
	struct crs_jsonw *w = begin();
	struct out o;

	(void)state;
	crs_jsonw_obj_begin(w);
	crs_jsonw_obj_end(w);
	crs_jsonw_arr_begin(w);
	crs_jsonw_arr_end(w);
	o = finish(w);
	expect_text(&o, "{}[]");
	free(o.buf);
}

/* ------------------------------------------------------------------ */
/* strings                                                            */
/* ------------------------------------------------------------------ */

static void test_escaping(void **state)
{
	static const char tricky[] = "q\"uote b\\ack /slash tab\tnl\ncr\r\x01\x1f\x7f end\\";
	char ctl[40];
	struct crs_jsonw *w = begin();
	struct out o;
	json_t *j;

	(void)state;
	for (int i = 1; i < 0x20; i++)
		ctl[i - 1] = (char)i;
	ctl[31] = 0x7f;
	ctl[32] = 0;
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_str(w, "tricky", tricky);
	crs_jsonw_kv_str(w, "ctl", ctl);
	crs_jsonw_kv_str(w, "key \"with\" \\esc\n", "v");
	crs_jsonw_kv_str(w, "utf8", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
	crs_jsonw_kv_str(w, "", "empty key");
	crs_jsonw_obj_end(w);
	o = finish(w);

	/* The exact escapes. */
	assert_non_null(strstr(o.buf, "\"q\\\"uote b\\\\ack /slash tab\\u0009nl\\u000acr\\u000d\\u0001\\u001f\\u007f end\\\\\""));
	assert_non_null(strstr(o.buf, "\"key \\\"with\\\" \\\\esc\\u000a\":\"v\""));
	/* No raw control character anywhere. */
	for (size_t i = 0; i < o.len; i++)
		assert_true((unsigned char)o.buf[i] >= 0x20 && o.buf[i] != 0x7f);

	j = parse_ok(&o);
	assert_string_equal(json_string_value(json_object_get(j, "tricky")), tricky);
	assert_string_equal(json_string_value(json_object_get(j, "ctl")), ctl);
	assert_string_equal(json_string_value(json_object_get(j, "key \"with\" \\esc\n")), "v");
	assert_string_equal(json_string_value(json_object_get(j, "utf8")), "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_string_equal(json_string_value(json_object_get(j, "")), "empty key");
	json_decref(j);
	free(o.buf);
}

/*
 * A path that is not valid UTF-8 (a Latin-1 file name) must still give a
 * document the tools can parse.
 */
static void test_non_utf8_path(void **state)
{
	struct crs_jsonw *w = begin();
	struct out o;
	json_error_t err;
	json_t *j;

	(void)state;
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_str(w, "path", "/tmp/caf\xe9.dat");
	crs_jsonw_obj_end(w);
	o = finish(w);
	j = json_loadb(o.buf, o.len, 0, &err);
	if (!j) {
		print_message("BUG: jsonw copies bytes >= 0x80 unchecked; a non-UTF-8 path makes the "
			      "whole document unparsable (jansson: %s)\n", err.text);
		free(o.buf);
		fail();
	}
	json_decref(j);
	free(o.buf);
}

/* ------------------------------------------------------------------ */
/* numbers                                                            */
/* ------------------------------------------------------------------ */

static void test_numbers_and_hex(void **state)
{
	struct crs_jsonw *w = begin();
	struct out o;
	json_t *j;

	(void)state;
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_int(w, "min", INT64_MIN);
	crs_jsonw_kv_int(w, "max", INT64_MAX);
	crs_jsonw_kv_int(w, "zero", 0);
	crs_jsonw_kv_uint(w, "umax63", (uint64_t)INT64_MAX);
	crs_jsonw_kv_hex(w, "h0", 0);
	crs_jsonw_kv_hex(w, "h1", 0xdeadbeef);
	crs_jsonw_kv_hex(w, "h2", 0x7fff12345000ull);
	crs_jsonw_kv_hex(w, "hmax", UINT64_MAX);
	crs_jsonw_obj_end(w);
	o = finish(w);
	expect_text(&o, "{\"min\":-9223372036854775808,\"max\":9223372036854775807,\"zero\":0,"
			"\"umax63\":9223372036854775807,\"h0\":\"0x0\",\"h1\":\"0xdeadbeef\","
			"\"h2\":\"0x7fff12345000\",\"hmax\":\"0xffffffffffffffff\"}");
	j = parse_ok(&o);
	assert_int_equal(json_integer_value(json_object_get(j, "min")), INT64_MIN);
	assert_int_equal(json_integer_value(json_object_get(j, "max")), INT64_MAX);
	assert_string_equal(json_string_value(json_object_get(j, "hmax")), "0xffffffffffffffff");
	assert_int_equal(strtoull(json_string_value(json_object_get(j, "h2")), NULL, 16), 0x7fff12345000ull);
	json_decref(j);
	free(o.buf);

	/* uint64 above INT64_MAX: plain digits (jansson cannot hold it as an
	 * integer, which is why addresses go out as hex strings). */
	w = begin();
	crs_jsonw_arr_begin(w);
	crs_jsonw_uint(w, UINT64_MAX);
	crs_jsonw_arr_end(w);
	o = finish(w);
	expect_text(&o, "[18446744073709551615]");
	free(o.buf);
}

/* ------------------------------------------------------------------ */
/* big outputs: flush boundaries                                      */
/* ------------------------------------------------------------------ */

static void test_large_output(void **state)
{
	enum { N = 5000 };
	struct crs_jsonw *w = begin();
	struct out o;
	json_t *j, *arr;
	char s[64];

	(void)state;
	crs_jsonw_obj_begin(w);
	crs_jsonw_key(w, "items");
	crs_jsonw_arr_begin(w);
	for (int i = 0; i < N; i++) {
		/* varying lengths so every kind of token straddles a boundary */
		int len = i % 23;

		for (int k = 0; k < len; k++)
			s[k] = (char)(k % 5 == 0 ? '"' : k % 7 == 0 ? '\n' : 'a' + k % 26);
		s[len] = 0;
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_int(w, "i", i);
		crs_jsonw_kv_str(w, "s", s);
		crs_jsonw_kv_hex(w, "addr", 0x7f0000000000ull + (uint64_t)i * 4096);
		crs_jsonw_key(w, "l");
		crs_jsonw_arr_begin(w);
		crs_jsonw_bool(w, i & 1);
		crs_jsonw_null(w);
		crs_jsonw_arr_end(w);
		crs_jsonw_obj_end(w);
	}
	crs_jsonw_arr_end(w);
	crs_jsonw_kv_str(w, "tail", "end");
	crs_jsonw_obj_end(w);
	o = finish(w);
	assert_true(o.len > 20 * sizeof(w->buf));
	j = parse_ok(&o);
	arr = json_object_get(j, "items");
	assert_int_equal(json_array_size(arr), N);
	for (int i = 0; i < N; i++) {
		json_t *it = json_array_get(arr, (size_t)i);
		int len = i % 23;
		char want[32];

		for (int k = 0; k < len; k++)
			s[k] = (char)(k % 5 == 0 ? '"' : k % 7 == 0 ? '\n' : 'a' + k % 26);
		s[len] = 0;
		snprintf(want, sizeof(want), "0x%" PRIx64, (uint64_t)(0x7f0000000000ull + (uint64_t)i * 4096));
		assert_int_equal(json_integer_value(json_object_get(it, "i")), i);
		assert_string_equal(json_string_value(json_object_get(it, "s")), s);
		assert_string_equal(json_string_value(json_object_get(it, "addr")), want);
		assert_int_equal(json_is_true(json_array_get(json_object_get(it, "l"), 0)), i & 1);
	}
	assert_string_equal(json_string_value(json_object_get(j, "tail")), "end");
	json_decref(j);
	free(o.buf);
}

/* One string much bigger than the buffer, and escapes placed exactly on
 * the buffer boundary. */
static void test_huge_string_and_boundaries(void **state)
{
	enum { BIG = 100000 };
	char *big = malloc(BIG + 1);
	struct out o;
	json_t *j;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < BIG; i++)
		big[i] = (char)(i % 97 == 0 ? '\\' : i % 89 == 0 ? '\x02' : 'A' + i % 26);
	big[BIG] = 0;
	{
		struct crs_jsonw *w = begin();

		crs_jsonw_arr_begin(w);
		crs_jsonw_str(w, big);
		crs_jsonw_str(w, big + BIG / 2);
		crs_jsonw_arr_end(w);
		o = finish(w);
	}
	j = parse_ok(&o);
	assert_string_equal(json_string_value(json_array_get(j, 0)), big);
	assert_string_equal(json_string_value(json_array_get(j, 1)), big + BIG / 2);
	json_decref(j);
	free(o.buf);

	/* Every offset of a 2-byte and a 6-byte escape around 8192. */
	for (size_t pad = 8170; pad < 8200; pad++) {
		struct crs_jsonw *w = begin();
		char *s = malloc(pad + 4);

		assert_non_null(s);
		memset(s, 'p', pad);
		s[pad] = '"';
		s[pad + 1] = '\x1b';
		s[pad + 2] = 'z';
		s[pad + 3] = 0;
		crs_jsonw_arr_begin(w);
		crs_jsonw_str(w, s + 2); /* "[" and the quote come first */
		crs_jsonw_int(w, 12345);
		crs_jsonw_arr_end(w);
		o = finish(w);
		j = parse_ok(&o);
		assert_string_equal(json_string_value(json_array_get(j, 0)), s + 2);
		assert_int_equal(json_integer_value(json_array_get(j, 1)), 12345);
		json_decref(j);
		free(o.buf);
		free(s);
	}
	free(big);
}

/* Exactly one full buffer, flushed by put itself, then nothing. */
static void test_exact_buffer(void **state)
{
	struct crs_jsonw *w = begin();
	char *s = malloc(sizeof(w->buf) - 4 + 1);
	struct out o;

	(void)state;
	assert_non_null(s);
	memset(s, 'e', sizeof(w->buf) - 4);
	s[sizeof(w->buf) - 4] = 0;
	crs_jsonw_arr_begin(w);
	crs_jsonw_str(w, s); /* [ + " + 8188 + " = 8191 */
	crs_jsonw_arr_end(w); /* 8192: flushed now */
	assert_int_equal(w->len, 0);
	o = finish(w);
	assert_int_equal(o.len, sizeof(w->buf));
	json_decref(parse_ok(&o));
	free(o.buf);
	free(s);
}

/* ------------------------------------------------------------------ */
/* fds: pipes and errors                                              */
/* ------------------------------------------------------------------ */

static void test_pipe(void **state)
{
	int p[2];
	char buf[256];
	ssize_t n;
	json_error_t err;
	json_t *j;

	(void)state;
	assert_int_equal(pipe(p), 0);
	crs_jsonw_init(&W, p[1]);
	assert_int_equal(crs_jsonw_flush(&W), 0); /* nothing to write */
	crs_jsonw_obj_begin(&W);
	crs_jsonw_kv_str(&W, "via", "pipe");
	crs_jsonw_obj_end(&W);
	/* Nothing reaches the fd before a flush (or a full buffer). */
	assert_true(W.len > 0);
	assert_int_equal(crs_jsonw_flush(&W), 0);
	assert_int_equal(W.len, 0);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = 0;
	close(p[0]);
	assert_string_equal(buf, "{\"via\":\"pipe\"}");
	j = json_loadb(buf, (size_t)n, 0, &err);
	assert_non_null(j);
	json_decref(j);
}

static void test_write_error(void **state)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	crs_jsonw_init(&W, fd);
	crs_jsonw_obj_begin(&W);
	crs_jsonw_kv_str(&W, "k", "v");
	crs_jsonw_obj_end(&W);
	assert_int_equal(crs_jsonw_flush(&W), -1);
	assert_int_equal(W.error, 1);
	/* Later output is dropped without trouble, also past the buffer size. */
	crs_jsonw_arr_begin(&W);
	for (int i = 0; i < 5000; i++)
		crs_jsonw_str(&W, "dropped dropped dropped");
	crs_jsonw_arr_end(&W);
	assert_true(W.len < sizeof(W.buf));
	assert_int_equal(crs_jsonw_flush(&W), -1);
	assert_int_equal(W.len, 0);
	close(fd);

	/* A closed fd. */
	crs_jsonw_init(&W, fd);
	crs_jsonw_null(&W);
	assert_int_equal(crs_jsonw_flush(&W), -1);

	/* init clears the error state. */
	{
		struct crs_jsonw *w = begin();
		struct out o;

		assert_int_equal(w->error, 0);
		crs_jsonw_null(w);
		o = finish(w);
		expect_text(&o, "null");
		free(o.buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars_and_commas),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_max_depth),
		cmocka_unit_test(test_top_level_sequence),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_non_utf8_path),
		cmocka_unit_test(test_numbers_and_hex),
		cmocka_unit_test(test_large_output),
		cmocka_unit_test(test_huge_string_and_boundaries),
		cmocka_unit_test(test_exact_buffer),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
