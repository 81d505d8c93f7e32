// SPDX-License-Identifier: MIT
/*
 * crs-hcad: a user-space stand-in for an InfiniBand HCA.  Programs using the
 * simulated libibverbs connect to it over a unix socket; it owns all verbs
 * objects and moves data between the processes.  Single threaded, poll().
 */
#include "hcad.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

int hcad_verbose;
static volatile sig_atomic_t stop;
static FILE *log_file;

void hlog(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;
	FILE *f = log_file ? log_file : stderr;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f, "%ld.%03ld crs-hcad[%d]: ", (long)ts.tv_sec,
		ts.tv_nsec / 1000000, (int)getpid());
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: crs-hcad [options]\n"
		"  -s, --socket PATH   listen here (default $CRS_HCA_SOCKET or\n"
		"                      /tmp/crs-hca-$UID/hca.sock)\n"
		"  -p, --pidfile PATH  write the daemon's pid here\n"
		"  -l, --log PATH      append log lines here\n"
		"  -d, --daemon        detach once the socket is listening\n"
		"  -L, --lid N         port LID (default $CRS_HCA_LID or random)\n"
		"  -g, --guid HEX      node GUID (default $CRS_HCA_GUID or random)\n"
		"  -v, --verbose       log every object\n");
}

static int write_pidfile(const char *path)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) || rename(tmp, path))
		return -1;
	return 0;
}

/* Fork; the parent waits until the child reports the socket is ready. */
static int daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return 0;
}

static void serve(int lfd)
{
	struct pollfd *pfd = NULL;
	size_t cap = 0;

	while (!stop) {
		size_t n = 1, i;
		struct list *l;
		int tmo, rc;

		for (l = clients.next; l != &clients; l = l->next)
			n++;
		if (n > cap) {
			cap = n * 2;
			pfd = realloc(pfd, cap * sizeof(*pfd));
			if (!pfd) {
				hlog("out of memory");
				return;
			}
		}
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		i = 1;
		for (l = clients.next; l != &clients; l = l->next, i++) {
			struct client *cl = container_of(l, struct client,
							 link);

			pfd[i].fd = cl->fd;
			pfd[i].events = POLLIN;
			if (transport_want_write(cl))
				pfd[i].events |= POLLOUT;
			pfd[i].revents = 0;
		}
		tmo = engine_timeout_ms();
		rc = poll(pfd, n, tmo);
		if (rc < 0 && errno != EINTR) {
			hlog("poll: %m");
			break;
		}
		if (rc > 0) {
			i = 1;
			for (l = clients.next; l != &clients && i < n;
			     l = l->next, i++) {
				struct client *cl = container_of(l,
						struct client, link);

				if (pfd[i].revents & (POLLIN | POLLHUP |
						      POLLERR))
					transport_read(cl);
			}
			if (pfd[0].revents & POLLIN)
				transport_accept(lfd);
		}
		if (tmo >= 0)
			engine_kick();	/* RNR timers */
		for (l = clients.next; l != &clients; l = l->next)
			transport_flush(container_of(l, struct client, link));
		clients_reap();
	}
	free(pfd);
}

/* The default socket lives in /tmp/crs-hca-$UID: create it, private. */
static void make_parent_dir(const char *path)
{
	char dir[4096];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0700) && errno != EEXIST)
		hlog("mkdir %s: %m", dir);
}

static char *default_socket(void)
{
	const char *env = getenv("CRS_HCA_SOCKET");
	static char buf[256];

	if (env && *env)
		return (char *)env;
	snprintf(buf, sizeof(buf), "/tmp/crs-hca-%u/hca.sock",
		 (unsigned int)getuid());
	return buf;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "lid", required_argument, NULL, 'L' },
		{ "guid", required_argument, NULL, 'g' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *pidfile = NULL, *logpath = NULL;
	const char *lid_s = getenv("CRS_HCA_LID");
	const char *guid_s = getenv("CRS_HCA_GUID");
	unsigned long lid = 0;
	uint64_t guid = 0;
	int detach = 0, ready_fd = -1, lfd, c;
	struct sigaction sa = { .sa_handler = on_signal };

	while ((c = getopt_long(argc, argv, "s:p:l:dL:g:vh", opts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'l':
			logpath = optarg;
			break;
		case 'd':
			detach = 1;
			break;
		case 'L':
			lid_s = optarg;
			break;
		case 'g':
			guid_s = optarg;
			break;
		case 'v':
			hcad_verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!sock)
		sock = default_socket();
	if (lid_s && *lid_s) {
		lid = strtoul(lid_s, NULL, 0);
		if (!lid || lid >= 0xc000) {
			fprintf(stderr, "crs-hcad: bad LID %s\n", lid_s);
			return 2;
		}
	}
	if (guid_s && *guid_s)
		guid = strtoull(guid_s, NULL, 16);
	if (logpath) {
		log_file = fopen(logpath, "a");
		if (!log_file) {
			fprintf(stderr, "crs-hcad: %s: %m\n", logpath);
			return 1;
		}
	}

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (detach && daemonize(&ready_fd)) {
		fprintf(stderr, "crs-hcad: fork: %m\n");
		return 1;
	}
	device_init((uint16_t)lid, guid);
	objects_init();
	make_parent_dir(sock);
	lfd = transport_listen(sock);
	if (lfd < 0) {
		hlog("cannot listen on %s", sock);
		return 1;
	}
	sysfs_create(sock);
	if (pidfile && write_pidfile(pidfile)) {
		hlog("cannot write %s: %m", pidfile);
		return 1;
	}
	hlog("device %s lid %#x guid %016llx listening on %s", HCA_DEV_NAME,
	     hcadev.lid, (unsigned long long)hcadev.node_guid, sock);
	if (ready_fd >= 0) {
		int nul = open("/dev/null", O_RDWR);

		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			/* stderr (sanitizer reports...) goes to the log */
			dup2(log_file ? fileno(log_file) : nul, 2);
			close(nul);
		}
		if (write(ready_fd, "R", 1) != 1)
			return 1;
		close(ready_fd);
	}

	serve(lfd);

	hlog("stopping");
	close(lfd);
	sysfs_remove();
	unlink(sock);
	if (pidfile)
		unlink(pidfile);
	return 0;
}
