/* Listening ports at dump, TIME_WAIT leftovers at restore (tcp_ports.h). */
#include "tcp_ports.h"

#include "proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int has(json_t *list, int port)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (json_integer_value(v) == port)
			return 1;
	return 0;
}

int tcp_parse_line(const char *line, struct tcp_line *t)
{
	const char *colon;

	memset(t, 0, sizeof(*t));
	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
	if (sscanf(line, " %*d: %63s %63s %x %*s %*s %*s %*u %*u %lu", t->local, t->remote, &t->state,
		   &t->inode) != 4)
		return -1;
	colon = strrchr(t->local, ':');
	if (!colon || strlen(colon + 1) != 4 || strspn(colon + 1, "0123456789abcdefABCDEF") != 4 ||
	    sscanf(colon + 1, "%x", &t->local_port) != 1)
		return -1;
	return 0;
}

int tcp_parse_addr(const char *field, int v6, unsigned char addr[16], unsigned *port)
{
	size_t n = v6 ? 16 : 4, digits = 2 * n;

	if (strlen(field) != digits + 5 || field[digits] != ':' ||
	    strspn(field, "0123456789abcdefABCDEF") != digits ||
	    strspn(field + digits + 1, "0123456789abcdefABCDEF") != 4 || sscanf(field + digits + 1, "%x", port) != 1)
		return -1;
	for (size_t k = 0; k < n; k++) {
		unsigned v;

		if (sscanf(field + 2 * k, "%2x", &v) != 1)
			return -1;
		addr[k] = (unsigned char)v;
	}
	/* The kernel prints 32-bit words in host order */
	for (size_t w = 0; w < n; w += 4) {
		unsigned char t[4] = { addr[w + 3], addr[w + 2], addr[w + 1], addr[w] };

		memcpy(addr + w, t, 4);
	}
	return 0;
}

static void scan_table(pid_t pid, const char *table, const struct proc_fd *fds, int nfds, json_t *ports)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, table);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		struct tcp_line t;

		if (tcp_parse_line(line, &t) < 0 || t.state != 0x0A)
			continue;
		if (proc_fds_hold_socket(fds, nfds, t.inode) && !has(ports, (int)t.local_port))
			json_array_append_new(ports, json_integer(t.local_port));
	}
	fclose(f);
}

json_t *tcp_listen_ports(const struct dproc *procs, int nprocs)
{
	json_t *ports = json_array();

	for (int i = 0; i < nprocs; i++) {
		struct proc_fd *fds = NULL;
		int n = proc_read_fds(procs[i].pid, &fds);

		if (n > 0) {
			scan_table(procs[i].pid, "tcp", fds, n, ports);
			scan_table(procs[i].pid, "tcp6", fds, n, ports);
		}
		free(fds);
	}
	return ports;
}

/* ss -K state time-wait '( sport = :P )' (iproute2, installed by setup). */
static int kill_time_wait(int port)
{
	char filter[64];
	pid_t pid;
	int st;

	snprintf(filter, sizeof(filter), "( sport = :%d )", port);
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);

		if (nul >= 0) {
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execlp("ss", "ss", "-K", "-tan", "state", "time-wait", filter, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Is some TIME_WAIT connection on this local port? (/proc/net/tcp*) */
static int time_wait_on(int port)
{
	static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	int found = 0;

	for (int t = 0; t < 2 && !found; t++) {
		FILE *f = fopen(tables[t], "re");
		char line[512];

		while (f && !found && fgets(line, sizeof(line), f)) {
			struct tcp_line tl;

			found = tcp_parse_line(line, &tl) == 0 && tl.state == 0x06 && (int)tl.local_port == port;
		}
		if (f)
			fclose(f);
	}
	return found;
}

int tcp_clear_time_wait(json_t *ports, int verbose)
{
	size_t i;
	json_t *v;
	int n = 0;

	json_array_foreach(ports, i, v) {
		int port = (int)json_integer_value(v);

		if (!time_wait_on(port))
			continue;
		if (kill_time_wait(port) == 0 && !time_wait_on(port)) {
			n++;
			if (verbose)
				printf("ended TIME_WAIT connections on port %d (the restored job listens there)\n", port);
		} else {
			fprintf(stderr, "crshim restore: warning: port %d has connections in TIME_WAIT that could not "
					"be ended; a restored listening socket may fail to bind it\n", port);
		}
	}
	return n;
}
