/*
 * check_tcp: an established TCP connection over loopback with both ends in
 * this process.  CRIU dumps it only with --tcp-established, so `crshim
 * check` must warn (and still call the process dumpable).  Prints "ready"
 * once connected, then sleeps until killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int lsk, csk, ask;

	lsk = socket(AF_INET, SOCK_STREAM, 0);
	csk = socket(AF_INET, SOCK_STREAM, 0);
	if (lsk < 0 || csk < 0 || bind(lsk, (struct sockaddr *)&addr, sizeof(addr)) || listen(lsk, 1) ||
	    getsockname(lsk, (struct sockaddr *)&addr, &len) ||
	    connect(csk, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("loopback connection");
		return 1;
	}
	ask = accept(lsk, NULL, NULL);
	if (ask < 0) {
		perror("accept");
		return 1;
	}
	close(lsk);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
