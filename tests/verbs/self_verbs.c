/*
 * self_verbs: crshim_checkpoint_self (include/crshim.h) in a verbs program.
 *
 *   self_verbs loop DIR               two RC QPs of this process connected
 *                                     to each other, then the checkpoint
 *   self_verbs server PORT            the peer of "client": one RC QP
 *   self_verbs client HOST PORT DIR   an RC QP connected to the server's,
 *                                     then the checkpoint
 *
 * After the call each prints "returned R errno NAME" (R its result, NAME
 * the errno's name when R is -1, else 0) and then proves the connection
 * still carries data: one SEND over the loop, or one SEND from the client
 * and one back from the server; "after ok" when the data arrived intact.
 * A restored "loop" (R = 1) does the same.  Exit 0 after "after ok".
 */
#include "crshim.h"
#include "vt_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEN 64
#define TMO 30000

struct end {
	struct vt v;
	char *buf; /* LEN to send, then LEN to receive */
	struct ibv_mr *mr;
};

static void end_open(struct end *e)
{
	vt_open(&e->v, NULL, 16, 16);
	e->buf = aligned_alloc(4096, 4096);
	if (!e->buf)
		vt_die("out of memory");
	memset(e->buf, 0, 4096);
	e->mr = vt_reg(&e->v, e->buf, 4096);
	vt_post_recv(&e->v, e->mr, e->buf + LEN, LEN, 2);
}

static struct vt_dest dest_of(const struct end *e)
{
	return (struct vt_dest){ .lid = e->v.lid, .qpn = e->v.qp->qp_num, .psn = e->v.psn };
}

static void send_msg(struct end *e, const char *text)
{
	struct ibv_wc wc;

	snprintf(e->buf, LEN, "%s", text);
	vt_post(&e->v, IBV_WR_SEND, e->mr, e->buf, LEN, NULL, 0, 1);
	do
		vt_wait(&e->v, &wc, TMO);
	while (wc.wr_id != 1);
}

static int recv_msg(struct end *e, const char *text)
{
	struct ibv_wc wc;

	do
		vt_wait(&e->v, &wc, TMO);
	while (wc.wr_id != 2);
	return !strcmp(e->buf + LEN, text);
}

static const char *errname(int e)
{
	static const struct {
		int e;
		const char *name;
	} names[] = { { EXDEV, "EXDEV" }, { EBUSY, "EBUSY" }, { ENOSYS, "ENOSYS" },
		      { EIO, "EIO" },	  { EEXIST, "EEXIST" } };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].name;
	return strerror(e);
}

static int checkpoint(const char *dir)
{
	int r = crshim_checkpoint_self(dir, 0);

	printf("returned %d errno %s\n", r, r < 0 ? errname(errno) : "0");
	fflush(stdout);
	return r;
}

static int after(int ok)
{
	printf("after %s\n", ok ? "ok" : "BAD");
	return ok ? 0 : 1;
}

static int loop(const char *dir)
{
	struct end a, b;
	struct vt_dest da, db;
	int ok;

	end_open(&a);
	end_open(&b);
	da = dest_of(&a);
	db = dest_of(&b);
	vt_connect(&a.v, &db);
	vt_connect(&b.v, &da);
	checkpoint(dir);
	send_msg(&a, "over the loop");
	ok = recv_msg(&b, "over the loop");
	return after(ok);
}

static int server(int port)
{
	struct vt_dest mine, theirs;
	struct end e;
	int ok;

	end_open(&e);
	mine = dest_of(&e);
	vt_exchange(NULL, port, &mine, &theirs);
	vt_connect(&e.v, &theirs);
	printf("connected\n");
	fflush(stdout);
	ok = recv_msg(&e, "from the client");
	vt_post_recv(&e.v, e.mr, e.buf + LEN, LEN, 2);
	send_msg(&e, "from the server");
	return after(ok);
}

static int client(const char *host, int port, const char *dir)
{
	struct vt_dest mine, theirs;
	struct end e;
	int ok;

	end_open(&e);
	mine = dest_of(&e);
	vt_exchange(host, port, &mine, &theirs);
	vt_connect(&e.v, &theirs);
	printf("connected\n");
	fflush(stdout);
	checkpoint(dir);
	send_msg(&e, "from the client");
	ok = recv_msg(&e, "from the server");
	return after(ok);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "loop"))
		return loop(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), argv[4]);
	vt_die("usage: self_verbs loop DIR | server PORT | client HOST PORT DIR");
}
