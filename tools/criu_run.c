/* Running CRIU as a child process. */
#include "criu_run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void close_others(const int *keep, int nkeep)
{
	int max = (int)sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++) {
		int k = 0;

		for (int i = 0; i < nkeep; i++)
			k |= keep[i] == fd;
		if (!k)
			close(fd);
	}
}

pid_t criu_spawn(const char *criu_path, char *const argv[], char *const env[], const char *out_path,
		 int stdin_fd, const int *keep_fds, int nkeep)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	/* child: its own process group, so that whatever a failed or killed
	 * CRIU leaves behind can be found and ended (criu_reap_group) */
	setpgid(0, 0);
	if (out_path) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (o >= 0) {
			dup2(o, 1);
			dup2(o, 2);
		}
	}
	if (stdin_fd >= 0) {
		dup2(stdin_fd, 0);
	} else {
		int n = open("/dev/null", O_RDONLY);

		if (n >= 0 && n != 0) {
			dup2(n, 0);
			close(n);
		}
	}
	close_others(keep_fds, nkeep);
	for (int i = 0; env && env[i]; i++)
		putenv(env[i]);
	/* CRIU must not inherit the shim (crshim itself might run under it). */
	unsetenv("LD_PRELOAD");
	execv(criu_path, argv);
	fprintf(stderr, "crshim: cannot run %s: %s\n", criu_path, strerror(errno));
	_exit(127);
}

int criu_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

void criu_log_excerpt(FILE *f, const char *log_path, int max)
{
	FILE *in = fopen(log_path, "re");
	char line[1024], tail[5][1024];
	int shown = 0, ntail = 0;

	if (!in) {
		fprintf(f, "    (no log at %s)\n", log_path);
		return;
	}
	while (fgets(line, sizeof(line), in)) {
		/* Harmless on these machines: an unprivileged rlimit raise. */
		if (strstr(line, "RLIMIT_NOFILE"))
			continue;
		if ((strstr(line, "Error") || strstr(line, "error:")) && shown < max) {
			fprintf(f, "    %s", line);
			shown++;
		}
		snprintf(tail[ntail % 5], sizeof(tail[0]), "%s", line);
		ntail++;
	}
	fclose(in);
	if (!shown)
		for (int i = ntail > 5 ? ntail - 5 : 0; i < ntail; i++)
			fprintf(f, "    %s", tail[i % 5]);
}

void criu_log_summary(FILE *f, const char *log_path, int max)
{
	FILE *in = fopen(log_path, "re");
	char line[1024], last[1024] = "";
	int warnings = 0, shown = 0;

	if (!in) {
		fprintf(f, "    (no log at %s)\n", log_path);
		return;
	}
	while (fgets(line, sizeof(line), in)) {
		if (strstr(line, "RLIMIT_NOFILE") || !line[strspn(line, " \t\n")])
			continue;
		shown = strstr(line, "Warn ") && warnings++ < max - 1;
		if (shown)
			fprintf(f, "    %s", line);
		snprintf(last, sizeof(last), "%s", line);
	}
	fclose(in);
	if (warnings > max - 1)
		fprintf(f, "    (%d more warnings)\n", warnings - (max - 1));
	if (last[0] && !shown)
		fprintf(f, "    %s%s", last, last[strlen(last) - 1] == '\n' ? "" : "\n");
}

void criu_version(const char *criu_path, char *out, size_t outlen)
{
	char cmd[4200], line[256];
	FILE *p;

	snprintf(out, outlen, "unknown");
	snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", criu_path);
	p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, "Version: ", 9)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, outlen, "%s", line + 9);
		}
	pclose(p);
}

void criu_print_cmdline(FILE *f, const char *criu_path, char *const argv[])
{
	fprintf(f, "  $ %s", criu_path);
	for (int i = 1; argv[i]; i++)
		fprintf(f, " %s", argv[i]);
	fputc('\n', f);
}

void criu_reap_group(pid_t pid)
{
	/* CRIU's helpers outlive a killed CRIU; none of the dumped or restored
	 * tasks is in its process group. */
	kill(-pid, SIGKILL);
}

void criu_network_unlock(const char *log_path)
{
	FILE *f = fopen(log_path, "re");
	char line[512], id[64] = "", table[40];
	pid_t pid;
	int st;

	while (f && !id[0] && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "CRIU run id = ");

		if (p && sscanf(p + 14, "%63s", id) != 1)
			id[0] = 0;
	}
	if (f)
		fclose(f);
	if (!id[0] || strspn(id, "0123456789abcdef-") != strlen(id))
		return;
	/* CRIU names it "inet CRIU-" and its run id, in 32 bytes */
	snprintf(table, sizeof(table), "CRIU-%.21s", id);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		if (nul >= 0) {
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execlp("nft", "nft", "delete", "table", "inet", table, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
}
