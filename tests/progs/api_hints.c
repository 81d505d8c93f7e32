/*
 * api_hints PIDFILE MB: gives an MB MiB range full of data to
 * crshim_discard_region, registers both callbacks, writes its pid to
 * PIDFILE and then runs until killed, writing on stdout (write(2)):
 *   fork private ok|BAD          a fork child's writes to the range stay
 *                                its own (fork semantics kept)
 *   ready                        set up
 *   discard_region -1 ERR        when that failed
 *   checkpoint-callback          a checkpoint begins
 *   restore-callback R discarded D region intact|zero|BAD
 *                                the process runs again (R: restored), D
 *                                from crshim_region_discarded, and what
 *                                the range holds
 * While running, a second thread keeps reading the range.
 */
#include "crshim.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "say.h"

static unsigned char *range;
static size_t len;

static const char *contents(void)
{
	int data = 1, zero = 1;

	for (size_t i = 0; i < len; i += 4096) {
		data &= range[i] == (unsigned char)(1 + i / 4096);
		zero &= range[i] == 0;
	}
	return data ? "intact" : zero ? "zero" : "BAD";
}

static void on_ckpt(void *arg)
{
	(void)arg;
	say("checkpoint-callback\n");
}

static void on_rst(int restored, void *arg)
{
	(void)arg;
	say("restore-callback %d discarded %d region %s\n", restored,
	    crshim_region_discarded(range + len / 2), contents());
}

static volatile unsigned sink; /* keeps the reader's loads */

static void *reader(void *arg)
{

	(void)arg;
	for (;;) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		for (size_t i = 0; i < len; i += 4096)
			sink += range[i];
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	char line[32];
	pthread_t th;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: api_hints PIDFILE MB\n");
		return 2;
	}
	len = (size_t)atoi(argv[2]) << 20;
	range = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (range == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < len; i += 4096)
		memset(range + i, (int)(1 + i / 4096) & 0xff, 4096);
	if (crshim_discard_region(range, len))
		say("discard_region -1 %s\n", strerror(errno));
	{
		pid_t child = fork();
		int st = -1;

		if (child == 0) {
			range[0] = 0xaa;
			_exit(range[0] == 0xaa ? 0 : 1);
		}
		waitpid(child, &st, 0);
		say("fork private %s\n", st == 0 && range[0] == 1 ? "ok" : "BAD");
	}
	crshim_on_checkpoint(on_ckpt, NULL);
	crshim_on_restore(on_rst, NULL);
	pthread_create(&th, NULL, reader, NULL);
	snprintf(line, sizeof(line), "%d\n", (int)getpid());
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, strlen(line)) < 0 || close(fd) < 0)
		return 2;
	say("ready\n");
	for (;;)
		pause();
}
