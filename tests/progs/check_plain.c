/*
 * check_plain: holds nothing special; CRIU must dump it.
 * Prints "ready" once set up, then sleeps until killed.
 */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
