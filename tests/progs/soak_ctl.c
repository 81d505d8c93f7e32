/*
 * soak_ctl: a minimal client of the control protocol
 * (include/crshim_control.h: connect to RUNDIR/PID.sock, write one request
 * line, read one JSON answer until the shim closes the connection).
 *
 *   soak_ctl once SOCKET REQUEST
 *       send REQUEST, print the answer on stdout.  Exit 0 when an answer
 *       came, 3 when the shim closed the connection without answering,
 *       4 when the connection could not be made (errno printed).
 *   soak_ctl cycles SOCKET PID N [WARMUP]
 *       WARMUP (default 20) PREPARE/RESUME cycles, then read the fd count and
 *       VmRSS of PID, then N cycles, read them again.  Every answer must be
 *       {"ok":true...} with "phase":"prepared" after PREPARE and "running"
 *       after RESUME, and PING's counters must have grown by exactly N+WARMUP.
 *       Prints one line:
 *         cycles N us_per_cycle X fds_before A fds_after B rss_before_kb C rss_after_kb D
 *       Exit 0, or 1 with the reason on stderr.
 *   soak_ctl stress SOCKET PID N
 *       N rounds of PREPARE, STATUS, PING, RESUME while the program runs its
 *       threads (TSan stress of the control thread against the hooks).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char answer[1 << 22];

/* 0 = answered (text in answer), 3 = closed without an answer, 4 = no connection. */
static int request(const char *sock, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0;
	ssize_t n;
	int fd;

	answer[0] = 0;
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "socket path too long\n");
		return 4;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "connect %s: %s\n", sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 4;
	}
	if (dprintf(fd, "%s\n", req) < 0) {
		close(fd);
		return 3;
	}
	while (len < sizeof(answer) - 1 && (n = read(fd, answer + len, sizeof(answer) - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	answer[len] = 0;
	close(fd);
	return len ? 0 : 3;
}

static int fd_count(int pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static long rss_kb(int pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long counter(const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(answer, pat);
	return p ? atol(p + strlen(pat)) : -1;
}

static int expect(const char *sock, const char *req, const char *phase)
{
	int r = request(sock, req);
	char want[64];

	if (r != 0) {
		fprintf(stderr, "%s: no answer (%d)\n", req, r);
		return -1;
	}
	snprintf(want, sizeof(want), "\"phase\":\"%s\"", phase);
	if (!strstr(answer, "\"ok\":true") || (phase[0] && !strstr(answer, want))) {
		fprintf(stderr, "%s: unexpected answer: %.300s\n", req, answer);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); /* a shim that refuses closes at once */
	if (argc == 4 && !strcmp(argv[1], "once")) {
		int r = request(argv[2], argv[3]);

		if (r == 0)
			printf("%s", answer);
		return r;
	}
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "cycles")) {
		const char *sock = argv[2];
		int pid = atoi(argv[3]), n = atoi(argv[4]), warm = argc == 6 ? atoi(argv[5]) : 20;
		long p0, r0, fds0, fds1, rss0, rss1;
		double t0, t1;

		if (expect(sock, "PING", "running") < 0)
			return 1;
		p0 = counter("prepares");
		r0 = counter("resumes");
		for (int i = 0; i < warm; i++)
			if (expect(sock, "PREPARE", "prepared") < 0 || expect(sock, "RESUME", "running") < 0)
				return 1;
		fds0 = fd_count(pid);
		rss0 = rss_kb(pid);
		t0 = now();
		for (int i = 0; i < n; i++)
			if (expect(sock, "PREPARE", "prepared") < 0 || expect(sock, "RESUME", "running") < 0) {
				fprintf(stderr, "cycle %d failed\n", i);
				return 1;
			}
		t1 = now();
		fds1 = fd_count(pid);
		rss1 = rss_kb(pid);
		if (expect(sock, "PING", "running") < 0)
			return 1;
		if (counter("prepares") - p0 != n + warm || counter("resumes") - r0 != n + warm) {
			fprintf(stderr, "the shim counted %ld prepares and %ld resumes, expected %d\n",
				counter("prepares") - p0, counter("resumes") - r0, n + warm);
			return 1;
		}
		printf("cycles %d us_per_cycle %.1f fds_before %ld fds_after %ld rss_before_kb %ld rss_after_kb %ld\n", n,
		       n ? (t1 - t0) * 1e6 / n : 0.0, fds0, fds1, rss0, rss1);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "stress")) {
		const char *sock = argv[2];
		int n = atoi(argv[4]);

		for (int i = 0; i < n; i++)
			if (expect(sock, "PREPARE", "prepared") < 0 || expect(sock, "STATUS", "prepared") < 0 ||
			    expect(sock, "PING", "prepared") < 0 || expect(sock, "RESUME", "running") < 0 ||
			    expect(sock, "STATUS", "running") < 0)
				return 1;
		printf("stress %d rounds ok\n", n);
		return 0;
	}
	fprintf(stderr, "usage: soak_ctl once SOCKET REQUEST | cycles SOCKET PID N [WARMUP] | stress SOCKET PID N\n");
	return 2;
}
