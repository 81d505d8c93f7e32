/*
 * reg_paths: one memory region through each registration entry point a
 * program can reach: ibv_reg_mr with constant access flags (the
 * ibv_reg_mr@IBVERBS_1.1 symbol), with variable flags (the verbs.h macro
 * calls ibv_reg_mr_iova2 directly), and ibv_reg_mr_iova.  Then it waits
 * until FILE exists, so the shim's record can be checked: three regions,
 * each recorded once.
 */
#include "vt_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct vt v = { 0 };
	char *buf = aligned_alloc(4096, 3 * 4096);
	volatile int flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ;
	struct ibv_mr *a, *b, *c;
	int bad;

	if (argc != 2 || !buf)
		vt_die("usage: reg_paths FILE");
	vt_open(&v, NULL, 4, 4);
	a = ibv_reg_mr(v.pd, buf, 4096, IBV_ACCESS_LOCAL_WRITE);
	b = ibv_reg_mr(v.pd, buf + 4096, 4096, flags);
	c = ibv_reg_mr_iova(v.pd, buf + 8192, 4096, 0x10000, IBV_ACCESS_LOCAL_WRITE);
	if (!a || !b || !c)
		vt_die("registration failed");
	printf("registered 3\n");
	fflush(stdout);
	while (access(argv[1], F_OK))
		usleep(10000);
	/* Each one deregistered (no short circuit), then everything released:
	 * under LeakSanitizer an exit that leaves them is a report. */
	bad = ibv_dereg_mr(a) != 0;
	bad |= ibv_dereg_mr(b) != 0;
	bad |= ibv_dereg_mr(c) != 0;
	bad |= vt_close(&v) != 0;
	free(buf);
	return bad;
}
