/*
 * doctor_static: built with -static; LD_PRELOAD cannot reach it, so
 * `crshim doctor` must say crshim cannot work and exit 2.
 */
#include <stdio.h>

int main(void)
{
	puts("static");
	return 0;
}
