/*
 * fuzz_answer: how the crshim command parses an answer of a shim
 * (tools/control_client.c, ctl_parse_answer: what ctl_request does with
 * the bytes read from the endpoint), then what its callers read from it:
 * "ok", "error", and in a process record the phase, pid and the objects'
 * and mappings' arrays (cmd_dump.c, cmd_status.c, check.c).
 *
 * Input: the bytes of an answer, as read (not NUL-terminated).  Asserted:
 * no overflow, no leak; CTL_OK only for a JSON object whose "ok" is true,
 * anything else CTL_BAD_ANSWER with a message naming the pid that
 * fits the buffer; a malformed answer leaves no JSON behind.
 */
#include "control_client.h"
#include "paths.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

/* control_client.c's endpoint path needs it; never called here */
void paths_rundir(uid_t uid, char *out, size_t outlen)
{
	snprintf(out, outlen, "/nonexistent/%u", (unsigned)uid);
}

/* What the callers read from an answer, the way they read it. */
static void use_answer(json_t *a)
{
	json_t *v;
	size_t i;

	(void)json_string_value(json_object_get(a, "phase"));
	(void)json_integer_value(json_object_get(a, "pid"));
	json_array_foreach(json_object_get(a, "objects"), i, v) {
		(void)json_string_value(json_object_get(v, "kind"));
		(void)json_string_value(json_object_get(v, "path"));
	}
	json_array_foreach(json_object_get(a, "mappings"), i, v)
		(void)json_string_value(json_object_get(v, "start"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1), err[160];
	json_t *a = (json_t *)1;
	enum ctl_error e;

	memcpy(buf, data, size);
	memset(err, 'x', sizeof(err));
	e = ctl_parse_answer(4242, buf, size, &a, err, sizeof(err));
	if (e == CTL_OK) {
		CHECK(a && json_is_object(a) && json_is_true(json_object_get(a, "ok")));
		use_answer(a);
	} else {
		CHECK(e == CTL_BAD_ANSWER);
		CHECK(memchr(err, 0, sizeof(err)));
		CHECK(!strncmp(err, "pid 4242: ", 10));
		CHECK(a != (json_t *)1);
		CHECK(!a || !json_is_true(json_object_get(a, "ok")));
	}
	json_decref(a);
	free(buf);
	return 0;
}
