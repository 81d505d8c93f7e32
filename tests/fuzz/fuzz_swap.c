/*
 * fuzz_swap: the argument parser of the control request
 *   SWAP PATH N START-END:OFFSET:PROT... M FD...
 * (parse_swap in preload/swap.c, compiled in here so that the static
 * function can be called; nothing is mapped or dup'ed).
 *
 * Asserted: no overflow; a request that parses has a NUL-terminated path
 * of at most 511 bytes, 0..64 ranges each with start < end, 0..64 fds.
 */
#include "swap.c" /* preload/swap.c: its static parser */

#include <stdint.h>

#include "fuzz_check.h"

static struct swap s;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *args = malloc(size + 1);

	memcpy(args, data, size);
	args[size] = 0;
	memset(&s, 0, sizeof(s));
	if (parse_swap(args, &s) == 0) {
		CHECK(memchr(s.path, 0, sizeof(s.path)));
		CHECK(s.nranges >= 0 && s.nranges <= MAX_RANGES);
		CHECK(s.nfds >= 0 && s.nfds <= MAX_RANGES);
		for (int i = 0; i < s.nranges; i++)
			CHECK(s.start[i] < s.end[i]);
	}
	free(args);
	return 0;
}
