/*
 * fuzz_ptree: the /proc files tools/ptree.c reads for the process tree and
 * its checks: a line of /proc/PID/stat (ptree_parse_stat: state, ppid,
 * pgrp, session, tty after the ")" that ends comm), /proc/PID/status
 * (ptree_parse_session_outside: the NSsid line) and a
 * /proc/PID/task/TID/children file (ptree_parse_children).
 *
 * Input: the first byte picks the file ('u' status, 'c' children, anything
 * else stat), the rest is its text.  Asserted: no overflow; a stat line
 * parses only if it has a ")", and the same bytes used as comm in a
 * well-formed line (the kernel puts any bytes there) give back exactly the
 * fields printed after it; status answers 0 or 1, and 0 without an NSsid
 * line; children appends only positive pids, as many as it says.
 */
#include "ptree.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static void fuzz_stat(const char *text, size_t len)
{
	struct ptree_stat sf, want = { 'R', 0, 0, 0, 0 };
	char line[512];
	size_t n = len < 200 ? len : 200;
	unsigned h = 0;

	if (ptree_parse_stat(text, &sf) == 0)
		CHECK(strchr(text, ')'));
	/* text as comm (NUL-free by construction), fields from its bytes */
	for (size_t i = 0; i < n; i++) {
		h = h * 31 + (unsigned char)text[i];
		want.tty_nr = want.tty_nr * 7 + (unsigned char)text[i];
	}
	want.ppid = (int)(h & 0x3fffffff);
	want.pgrp = want.ppid / 3;
	want.session = want.ppid / 5;
	snprintf(line, sizeof(line), "4242 (%.*s) %c %d %d %d %u 4242 4194560 100 0\n", (int)n, text,
		 want.state, want.ppid, want.pgrp, want.session, want.tty_nr);
	CHECK(ptree_parse_stat(line, &sf) == 0);
	CHECK(sf.state == want.state && sf.ppid == want.ppid && sf.pgrp == want.pgrp &&
	      sf.session == want.session && sf.tty_nr == want.tty_nr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	size_t len;
	FILE *f;

	if (size < 1)
		return 0;
	len = size - 1;
	text = malloc(size);
	memcpy(text, data + 1, len);
	text[len] = 0;
	if (data[0] == 'u' || data[0] == 'c') {
		f = fmemopen(text, len ? len : 1, "r");
		if (f && data[0] == 'u') {
			int r = ptree_parse_session_outside(f);

			CHECK(r == 0 || r == 1);
			CHECK(r == 0 || memmem(text, len, "NSsid:", 6));
		} else if (f) {
			pid_t *v = NULL;
			int n = 0, got = ptree_parse_children(f, &v, &n);

			CHECK(got == n);
			for (int i = 0; i < n; i++)
				CHECK(v[i] > 0);
			free(v);
		}
		if (f)
			fclose(f);
	} else {
		fuzz_stat(text, strlen(text));
	}
	free(text);
	return 0;
}
