/* CHECK(cond): a property every fuzz target asserts; a violation aborts, which libFuzzer
 * reports as a crash and keeps the input (tools/fuzz.sh prints how to replay it). */
#ifndef CRSHIM_FUZZ_CHECK_H
#define CRSHIM_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "check failed: %s\n", #c);                                 \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
