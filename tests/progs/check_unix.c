/*
 * check_unix listen PATH | connect PATH: a unix stream connection between
 * two separate processes.  Dumping the connecting one alone fails: CRIU
 * cannot dump half of a stream connection whose peer is outside the tree.
 * Prints "ready" once set up (the listener once it listens, the client once
 * accepted), then sleeps until killed.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void ready(void)
{
	printf("ready\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sk, conn;

	if (argc != 3 || strlen(argv[2]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: check_unix listen|connect PATH\n");
		return 2;
	}
	strcpy(addr.sun_path, argv[2]);
	sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!strcmp(argv[1], "listen")) {
		unlink(addr.sun_path);
		if (bind(sk, (struct sockaddr *)&addr, sizeof(addr)) || listen(sk, 4)) {
			perror(argv[2]);
			return 1;
		}
		ready();
		conn = accept(sk, NULL, NULL);
		(void)conn;	/* held open: the client's peer */
	} else {
		if (connect(sk, (struct sockaddr *)&addr, sizeof(addr))) {
			perror(argv[2]);
			return 1;
		}
		ready();
	}
	for (;;)
		pause();
}
