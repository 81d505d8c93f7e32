/* Locating the shim library, CRIU and the control directory. */
#include "paths.h"

#include "build_config.h"
#include "install_paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* p is a regular file: its absolute, symlink-free path into out. */
static int found(const char *p, char *out, size_t outlen)
{
	char real[PATH_MAX];

	if (!is_file(p) || !realpath(p, real) || strlen(real) >= outlen)
		return -1;
	snprintf(out, outlen, "%s", real);
	return 0;
}

/*
 * The libcrshim.so that belongs to this crshim binary, looked up relative
 * to the binary first so that an install moved elsewhere (cmake --install
 * --prefix X, DESTDIR=..., a copied tree) finds its own library, not the
 * configure-time one.  BIN is the directory of /proc/self/exe (symlinks
 * resolved), in this order:
 *   1. BIN/REL/libcrshim.so     an install: REL goes from the install's
 *                               bindir to its libdir (CRSHIM_BIN_TO_LIBDIR:
 *                               ../lib, or ../lib/x86_64-linux-gnu under /usr)
 *   2. BIN/../lib/libcrshim.so  an install with the plain lib/ layout
 *   3. BIN/libcrshim.so         the build tree (both in build/)
 *   4. CRSHIM_INSTALL_LIBDIR/libcrshim.so  the configured libdir
 */
int paths_libcrshim(char *out, size_t outlen)
{
	static const char *const rel[] = { "/" CRSHIM_BIN_TO_LIBDIR, "/../lib", "" };
	char exe[PATH_MAX], cand[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	exe[n > 0 ? n : 0] = 0;
	slash = strrchr(exe, '/');
	if (slash) {
		*slash = 0;
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(cand, sizeof(cand), "%s%s/libcrshim.so", exe, rel[i]);
			if (found(cand, out, outlen) == 0)
				return 0;
		}
	}
	snprintf(cand, sizeof(cand), "%s/libcrshim.so", CRSHIM_INSTALL_LIBDIR);
	if (found(cand, out, outlen) == 0)
		return 0;
	snprintf(out, outlen, "libcrshim.so not found in %s/%s, %s/../lib, %s or %s", exe,
		 CRSHIM_BIN_TO_LIBDIR, exe, exe, CRSHIM_INSTALL_LIBDIR);
	return -1;
}

void paths_rundir(uid_t uid, char *out, size_t outlen)
{
	const char *v = getenv("CRSHIM_RUNDIR");

	if (v && v[0] == '/')
		snprintf(out, outlen, "%s", v);
	else
		snprintf(out, outlen, "/tmp/crshim-%u", (unsigned)uid);
}

static int executable(const char *p)
{
	return access(p, X_OK) == 0 && is_file(p);
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
		if (n && executable(buf)) {
			snprintf(out, outlen, "%s", buf);
			return 0;
		}
		path += n + (path[n] == ':');
	}
	return -1;
}

int paths_criu(char *out, size_t outlen)
{
	const char *env = getenv("CRSHIM_CRIU");
	char sel[PATH_MAX];
	FILE *f;

	if (env && *env) {
		if (executable(env)) {
			snprintf(out, outlen, "%s", env);
			return 0;
		}
		snprintf(out, outlen, "CRSHIM_CRIU=%s is not an executable file", env);
		return -1;
	}
	f = fopen(CRSHIM_PRIVATE_CRIU_DIR "/selected", "r");
	if (f) {
		if (fgets(sel, sizeof(sel), f)) {
			sel[strcspn(sel, "\n")] = 0;
			if (executable(sel)) {
				fclose(f);
				snprintf(out, outlen, "%s", sel);
				return 0;
			}
		}
		fclose(f);
	}
	if (executable(CRSHIM_PRIVATE_CRIU_DIR "/criu")) {
		snprintf(out, outlen, "%s", CRSHIM_PRIVATE_CRIU_DIR "/criu");
		return 0;
	}
	if (from_path("criu", out, outlen) == 0)
		return 0;
	snprintf(out, outlen,
		 "no CRIU found: run tools/setup.sh, or set CRSHIM_CRIU to a working criu (4.2 or later)");
	return -1;
}
