/*
 * check_netlink [pending|groups|idle]: holds a NETLINK_ROUTE socket CRIU
 * cannot dump (or, with idle, one it can).
 *   pending: a link dump was requested and its answer never read; CRIU
 *            refuses a netlink socket with data to read.
 *   groups:  subscribed to RTNLGRP_STATS (36); CRIU dumps only groups 1-32.
 *   idle:    bound, nothing queued: dumpable.
 * Prints "ready" once set up, then sleeps until killed.
 */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static int request_links(int sk)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.i = { .ifi_family = AF_UNSPEC },
	};

	return send(sk, &req, sizeof(req), 0) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
	const char *mode = argc > 1 ? argv[1] : "pending";
	int sk, group = 36;

	sk = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	if (sk < 0 || bind(sk, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("netlink socket");
		return 1;
	}
	if (!strcmp(mode, "pending") && request_links(sk)) {
		perror("send RTM_GETLINK");
		return 1;
	}
	if (!strcmp(mode, "groups") &&
	    setsockopt(sk, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group))) {
		perror("NETLINK_ADD_MEMBERSHIP");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
