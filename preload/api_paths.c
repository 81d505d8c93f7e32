/*
 * Where the shim finds CRIU and the crshim command, and the environment it
 * gives the commands it starts.  Used by the C API only (never in a hook).
 */
#include "api_int.h"
#include "shim.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static int executable(const char *p)
{
	struct stat st;

	return access(p, X_OK) == 0 && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int copy_out(const char *p, char *out, size_t outlen)
{
	if (strlen(p) >= outlen)
		return -1;
	strcpy(out, p);
	return 0;
}

static int from_path(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
		if (n && executable(buf))
			return copy_out(buf, out, outlen);
		path += n + (path[n] == ':');
	}
	return -1;
}

/* The first line of /opt/crshim/criu/selected, read without stdio. */
static int selected_criu(char *out, size_t outlen)
{
	char buf[PATH_MAX];
	int fd = (int)syscall(SYS_open, CRS_PRIVATE_CRIU_DIR "/selected", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return executable(buf) ? copy_out(buf, out, outlen) : -1;
}

int crs_find_criu(char *out, size_t outlen)
{
	const char *env = getenv("CRSHIM_CRIU");

	if (env && *env)
		return executable(env) ? copy_out(env, out, outlen) : -1;
	if (selected_criu(out, outlen) == 0)
		return 0;
	if (executable(CRS_PRIVATE_CRIU_DIR "/criu"))
		return copy_out(CRS_PRIVATE_CRIU_DIR "/criu", out, outlen);
	return from_path("criu", out, outlen);
}

int crs_find_crshim(char *out, size_t outlen)
{
	static const char *const rel[] = { "/crshim", "/../bin/crshim", "/../../bin/crshim" };
	Dl_info info;
	char dir[PATH_MAX], cand[PATH_MAX + 32];

	if (dladdr((void *)crs_find_crshim, &info) && info.dli_fname && realpath(info.dli_fname, dir)) {
		char *slash = strrchr(dir, '/');

		if (slash)
			*slash = 0;
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(cand, sizeof(cand), "%s%s", dir, rel[i]);
			if (executable(cand))
				return copy_out(cand, out, outlen);
		}
	}
	return from_path("crshim", out, outlen);
}

char **crs_env_without_preload(void)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11))
			env[k++] = environ[i];
	env[k] = NULL;
	return env;
}
