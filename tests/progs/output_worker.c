/*
 * output_worker N INTERVAL_MS: writes "line I" for I = 1..N to stdout, one
 * write(2) each, INTERVAL_MS apart, then "done".  Used to check that a
 * restored program's output continues after what the original wrote since
 * the checkpoint, with nothing lost or truncated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100, ms = argc > 2 ? atoi(argv[2]) : 20;
	char line[64];

	for (int i = 1; i <= n; i++) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		int len = snprintf(line, sizeof(line), "line %d\n", i);

		if (write(1, line, (size_t)len) != len)
			return 1;
		nanosleep(&ts, NULL);
	}
	return write(1, "done\n", 5) == 5 ? 0 : 1;
}
