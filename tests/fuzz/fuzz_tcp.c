/*
 * fuzz_tcp: the /proc/net/tcp and tcp6 lines crshim reads (listening ports
 * at dump, TIME_WAIT leftovers at restore, connections to other hosts):
 * tcp_parse_line() and tcp_parse_addr() of tools/tcp_ports.c, when this tree
 * has them (CRSHIM_TCP_PARSE_LINE); without them there is nothing to fuzz.
 *
 * Input: one line.  Asserted: no overflow; a parsed line has NUL-terminated
 * fields and a local port below 65536; an address parses only from exactly
 * 8 (or 32) hex digits, a colon and 4 hex digits, and then always.
 */
#include "tcp_ports.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef CRSHIM_TCP_PARSE_LINE
	char *line = malloc(size + 1);
	struct tcp_line t;

	memcpy(line, data, size);
	line[size] = 0;
	if (tcp_parse_line(line, &t) == 0) {
		unsigned char addr[16];
		unsigned port;

		CHECK(memchr(t.local, 0, sizeof(t.local)) && memchr(t.remote, 0, sizeof(t.remote)));
		CHECK(t.local_port <= 0xffff);
		for (int v6 = 0; v6 < 2; v6++) {
			const char *fields[2] = { t.local, t.remote };

			for (int k = 0; k < 2; k++) {
				size_t len = strlen(fields[k]);
				int wellformed = len == (v6 ? 37u : 13u) && fields[k][len - 5] == ':' &&
						 strspn(fields[k], "0123456789abcdefABCDEF") == len - 5 &&
						 strspn(fields[k] + len - 4, "0123456789abcdefABCDEF") == 4;

				CHECK((tcp_parse_addr(fields[k], v6, addr, &port) == 0) == wellformed);
				if (wellformed)
					CHECK(port <= 0xffff);
			}
		}
	}
	/* Addresses on their own too, from the raw input. */
	{
		unsigned char addr[16];
		unsigned port;

		if (tcp_parse_addr(line, size > 20, addr, &port) == 0)
			CHECK(port <= 0xffff);
	}
	free(line);
#else
	(void)data;
	(void)size;
#endif
	return 0;
}
