/*
 * api_self DIR [MB] [AFTER]: checkpoints itself through the C API and says
 * what it sees, one line per fact on stdout (written with write(2)):
 *
 *   available N                crshim_available()
 *   checkpoint-callback        the checkpoint callback ran
 *   restore-callback R         the restore callback ran with restored = R
 *   returned R                 crshim_checkpoint_self's result (0, 1, -1 errno)
 *   kept ok|BAD                a 2 MiB range of ordinary memory kept its data
 *   discard intact|zero|BAD    the MB MiB range given to
 *                              crshim_discard_region: intact (running on),
 *                              zero (restored: dropped), BAD otherwise
 *   discarded R                crshim_region_discarded() on that range
 *   line I                     AFTER lines (default 0), 100 ms apart
 *   done
 *
 * Exit status: 0 when every fact is as expected for the return value (0
 * or 1), 3 otherwise, 2 when the checkpoint failed.
 */
#include "crshim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "say.h"

static int ckpt_calls, rst_calls, rst_value = -1;

static void on_ckpt(void *arg)
{
	ckpt_calls++;
	say("checkpoint-callback %s\n", (const char *)arg);
}

static void on_rst(int restored, void *arg)
{
	rst_calls++;
	rst_value = restored;
	say("restore-callback %d %s\n", restored, (const char *)arg);
}

static void fill(unsigned char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i += 512)
		p[i] = (unsigned char)(seed + i / 512);
}

static int same(const unsigned char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i += 512)
		if (p[i] != (unsigned char)(seed + i / 512))
			return 0;
	return 1;
}

static int zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	size_t mb = argc > 2 ? (size_t)atoi(argv[2]) : 8, dlen = mb << 20, klen = 2 << 20;
	int after = argc > 3 ? atoi(argv[3]) : 0, r, bad = 0;
	unsigned char *keep, *drop;

	if (argc < 2) {
		fprintf(stderr, "usage: api_self DIR [MB] [AFTER]\n");
		return 2;
	}
	keep = mmap(NULL, klen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	drop = mmap(NULL, dlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (keep == MAP_FAILED || drop == MAP_FAILED)
		return 2;
	fill(keep, klen, 7);
	fill(drop, dlen / 2, 11); /* the second half stays untouched */
	say("available %d\n", crshim_available());
	if (crshim_on_checkpoint(on_ckpt, "A") || crshim_on_restore(on_rst, "B") ||
	    crshim_on_checkpoint(on_ckpt, "A"))
		say("callbacks: %s\n", strerror(errno));
	if (crshim_discard_region(drop, dlen))
		say("discard_region: %s\n", strerror(errno));
	r = crshim_checkpoint_self(argv[1], 0);
	if (r < 0) {
		say("returned -1 %s\n", strerror(errno));
		return 2;
	}
	say("returned %d\n", r);
	say("kept %s\n", same(keep, klen, 7) ? "ok" : "BAD");
	if (r == 0 && same(drop, dlen / 2, 11) && zero(drop + dlen / 2, dlen / 2))
		say("discard intact\n");
	else if (r == 1 && zero(drop, dlen))
		say("discard zero\n");
	else
		say("discard BAD\n"), bad = 1;
	say("discarded %d\n", crshim_region_discarded(drop + 4096));
	bad |= ckpt_calls != 1 || rst_calls != 1 || rst_value != r || crshim_region_discarded(drop) != r ||
	       !same(keep, klen, 7);
	for (int i = 1; i <= after; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		say("line %d\n", i);
		nanosleep(&ts, NULL);
	}
	say("done\n");
	return bad ? 3 : 0;
}
