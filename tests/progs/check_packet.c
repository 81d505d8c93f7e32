/*
 * check_packet: holds an AF_PACKET socket (needs CAP_NET_RAW); CRIU dumps
 * packet sockets.  Prints "ready" once set up, then sleeps until killed.
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	int sk = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	if (sk < 0) {
		perror("socket(AF_PACKET)");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
