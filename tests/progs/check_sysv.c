/*
 * check_sysv: attaches a 1 MiB SysV shared memory segment (removed with
 * IPC_RMID so it goes away with the process); CRIU refuses SysV memory
 * outside an IPC namespace.  Prints "ready" once set up, then sleeps until
 * killed.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void)
{
	int id = shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600);
	char *p;

	if (id < 0) {
		perror("shmget");
		return 1;
	}
	p = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL);
	if (p == (void *)-1) {
		perror("shmat");
		return 1;
	}
	memset(p, 0x5a, 4096);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
