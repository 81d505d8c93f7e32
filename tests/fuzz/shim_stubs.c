/* Thread parking (preload/park.c) signals every thread of the process: a fuzz
 * harness that links the control or swap code never parks (fuzz_control,
 * fuzz_swap). */
#include "shim.h"

int crs_parked(void)
{
	return 0;
}

int crs_park_all(int timeout_ms, int *skipped)
{
	(void)timeout_ms;
	*skipped = 0;
	return -1;
}

void crs_unpark_all(void)
{
}
