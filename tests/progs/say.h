/* say(fmt, ...): one line to stdout with a single write(2), async-signal-safe
 * enough for the callbacks of the API test programs and never buffered, so a
 * checkpoint never carries unwritten output; exits 4 if stdout is gone. */
#ifndef CRSHIM_TEST_SAY_H
#define CRSHIM_TEST_SAY_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	if (write(1, line, (size_t)n) != n)
		_exit(4);
}

#endif
