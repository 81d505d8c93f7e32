/*
 * fuzz_proc: what crshim reads from /proc (tools/proc.c): a line of
 * /proc/PID/maps (proc_parse_maps_line) and, when this tree has it
 * (CRSHIM_PROC_PARSE_FDINFO), an fdinfo file (proc_parse_fdinfo).
 *
 * Input: the first byte picks maps or fdinfo, the rest is the text.
 * Asserted: no overflow; the parsed fields are NUL-terminated, the
 * permissions at most 4 characters, " (deleted)" stripped and flagged, a
 * maps line either refused or with start and end as printed.
 */
#include "proc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static struct proc_map m;
static struct proc_fd fd;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	if (data[0] & 1) {
#ifdef CRSHIM_PROC_PARSE_FDINFO
		FILE *f = fmemopen(text, size - 1 ? size - 1 : 1, "r");

		memset(&fd, 0, sizeof(fd));
		if (f) {
			proc_parse_fdinfo(f, &fd);
			fclose(f);
		}
#endif
	} else if (proc_parse_maps_line(text, &m) == 0) {
		size_t n = strlen(m.path);

		CHECK(memchr(m.perms, 0, sizeof(m.perms)));
		CHECK(memchr(m.path, 0, sizeof(m.path)));
		CHECK(!strchr(m.path, '\n'));
		CHECK(!m.deleted || n + strlen(" (deleted)") < sizeof(m.path));
		CHECK(m.deleted == 0 || m.deleted == 1);
	}
	free(text);
	return 0;
}
