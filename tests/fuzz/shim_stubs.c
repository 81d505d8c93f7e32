/*
 * What the fuzz harnesses of the control and swap code (fuzz_control,
 * fuzz_swap) link instead of the parts of the shim that act on the process:
 * thread parking (preload/park.c signals every thread) and the C API's
 * checkpoint and restore callbacks (preload/api_events.c).
 */
#include "api_int.h"
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

void crs_api_checkpoint_begin(void)
{
}

void crs_api_resume(int restored)
{
	(void)restored;
}
