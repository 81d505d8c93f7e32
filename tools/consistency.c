/* Checks that a checkpoint can be consistent (consistency.h). */
#include "consistency.h"

#include "proc.h"
#include "ptree.h"
#include "tcp_ports.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const launchers[] = { "mpirun", "mpiexec", "orterun", "orted", "prterun", "prted",
					 "hydra_pmi_proxy", "mpiexec.hydra", "slurmstepd", "srun" };

static int is_launcher(const char *comm)
{
	for (size_t i = 0; i < sizeof(launchers) / sizeof(launchers[0]); i++)
		if (!strcmp(comm, launchers[i]))
			return 1;
	return 0;
}

/* Is this (hex, as in /proc/net/tcp) address one of this host's? */
static int local_address(const char *hex, int v6)
{
	struct ifaddrs *ifa, *i;
	unsigned char addr[16] __attribute__((aligned(4))); /* read as struct in6_addr */
	unsigned port;
	int found = 0;

	if (tcp_parse_addr(hex, v6, addr, &port) < 0)
		return 1; /* unreadable: do not refuse on it */
	if (!v6 && addr[0] == 127)
		return 1;
	if (v6 && (IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr) || IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)addr) ||
		   (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)addr) && addr[12] == 127)))
		return 1;
	if (getifaddrs(&ifa) < 0)
		return 1;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (!v6 && i->ifa_addr->sa_family == AF_INET)
			found = !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr, 4);
		else if (v6 && i->ifa_addr->sa_family == AF_INET6)
			found = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, addr, 16);
		else if (v6 && i->ifa_addr->sa_family == AF_INET && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)addr))
			found = !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr + 12, 4);
	}
	freeifaddrs(ifa);
	return found;
}

/* "198.51.100.2:7301" or "[2001:db8::2]:7301" from /proc/net/tcp's hex form
 * (kept as it is if it does not parse). */
static void format_peer(const char *field, int v6, char *out, size_t len)
{
	unsigned char addr[16];
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (tcp_parse_addr(field, v6, addr, &port) < 0 ||
	    !inet_ntop(v6 ? AF_INET6 : AF_INET, addr, host, sizeof(host))) {
		snprintf(out, len, "%s", field);
		return;
	}
	snprintf(out, len, v6 ? "[%s]:%u" : "%s:%u", host, port);
}

/* An established TCP connection of pid to another host, into peer. */
static int remote_peer(pid_t pid, char *peer, size_t len)
{
	struct proc_fd *fds = NULL;
	int nfds = proc_read_fds(pid, &fds), found = 0;

	for (int v6 = 0; v6 < 2 && !found; v6++) {
		char path[64], line[512];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, v6 ? "tcp6" : "tcp");
		f = fopen(path, "re");
		while (f && !found && fgets(line, sizeof(line), f)) {
			struct tcp_line t;

			if (tcp_parse_line(line, &t) < 0 || t.state != 0x01)
				continue;
			if (!proc_fds_hold_socket(fds, nfds, t.inode) || local_address(t.remote, v6))
				continue;
			format_peer(t.remote, v6, peer, len);
			found = 1;
		}
		if (f)
			fclose(f);
	}
	free(fds);
	return found;
}

int consistency_check(const struct dproc *procs, int nprocs, int allow_partial)
{
	int refused = 0;

	for (int i = 0; i < nprocs; i++) {
		char comm[64], pcomm[64], peer[64];

		ptree_comm(procs[i].pid, comm, sizeof(comm));
		/* may_tcp (dump_util.h): reading the TCP tables costs ms each */
		if (procs[i].may_tcp && remote_peer(procs[i].pid, peer, sizeof(peer))) {
			fprintf(stderr,
				"crshim dump: pid %d (%s) has a TCP connection to another host (%s): "
				"processes there are not in this checkpoint, which would not be consistent; checkpoint "
				"every node at once, or give --allow-partial\n",
				(int)procs[i].pid, comm, peer);
			refused = 1;
		}
		ptree_comm(ptree_ppid(procs[i].pid), pcomm, sizeof(pcomm));
		if (!procs[i].shim && is_launcher(pcomm) && !is_launcher(comm))
			fprintf(stderr,
				"crshim dump: warning: pid %d (%s), started by %s, runs without the shim: it cannot be "
				"quiesced, and its memfds or SysV segments cannot be taken over (use -x LD_PRELOAD=$(crshim lib))\n",
				(int)procs[i].pid, comm, pcomm);
	}
	return refused && !allow_partial ? -1 : 0;
}
