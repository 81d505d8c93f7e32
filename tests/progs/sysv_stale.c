/*
 * A SysV segment kept (no IPC_RMID) across a checkpoint, for
 * test_criu_sysv_ids.sh.
 *
 *   sysv_stale GO_FILE RESULT_FILE
 *
 * Creates and attaches a segment, writes a pattern, prints its id to
 * stdout, then waits until GO_FILE exists (the test creates it after the
 * checkpoint, or after the restore).  Then it checks the pattern, detaches
 * the attachment (shmdt), and asks shmctl(IPC_STAT) and shmat about the id,
 * writing one line to RESULT_FILE:
 *   "OK detach=0 stat=<0|EINVAL> attach=<0|EINVAL>"
 * and, when it still can (the segment exists), removes the segment.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#define SIZE (1 << 20)

static const char *verdict(int r)
{
	return r == 0 ? "0" : errno == EINVAL ? "EINVAL" : strerror(errno);
}

int main(int argc, char **argv)
{
	struct shmid_ds ds;
	const char *sa;
	unsigned char *p;
	void *q;
	FILE *f;
	int id, st, at, bad = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: sysv_stale GO_FILE RESULT_FILE\n");
		return 2;
	}
	id = shmget(IPC_PRIVATE, SIZE, IPC_CREAT | 0600);
	p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
	if (p == (void *)-1) {
		perror("sysv_stale: shmget/shmat");
		return 1;
	}
	for (int i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(i * 7);
	printf("%d\n", id);
	fflush(stdout);
	while (access(argv[1], F_OK) != 0)
		usleep(20000);
	for (int i = 0; i < SIZE; i++)
		bad += p[i] != (unsigned char)(i * 7);
	if (shmdt(p) != 0) {
		perror("sysv_stale: shmdt");
		return 1;
	}
	st = shmctl(id, IPC_STAT, &ds);
	sa = verdict(st);
	q = shmat(id, NULL, 0);
	at = q == (void *)-1 ? -1 : 0;
	f = fopen(argv[2], "w");
	if (!f)
		return 1;
	fprintf(f, "%s detach=0 stat=%s attach=%s\n", bad ? "BAD" : "OK", sa, verdict(at));
	fclose(f);
	if (at == 0)
		shmdt(q);
	if (st == 0)
		shmctl(id, IPC_RMID, NULL);
	return bad ? 1 : 0;
}
