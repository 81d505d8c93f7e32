// SPDX-License-Identifier: MIT
/*
 * sysfs helpers.  crs-hcad keeps a sysfs tree for its device next to its
 * socket (<socket dir>/sysfs); that is this library's sysfs root, so
 * $sysfs/class/infiniband/crs_hca0/... reads like on a real node.
 * $SYSFS_PATH overrides it, as in rdma-core.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static pthread_mutex_t root_lock = PTHREAD_MUTEX_INITIALIZER;
static char root[256];

static bool is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

const char *hca_sysfs_root(void)
{
	const char *env = getenv("SYSFS_PATH");
	const char *sock, *slash;
	char probe[300];

	if (env && *env)
		return env;
	pthread_mutex_lock(&root_lock);
	if (!root[0]) {
		sock = hca_socket_path();
		slash = strrchr(sock, '/');
		if (slash && slash != sock) {
			snprintf(probe, sizeof(probe),
				 "%.*s/sysfs/class/infiniband",
				 (int)(slash - sock), sock);
			/* remembered once found: the pointer stays valid */
			if (is_dir(probe))
				snprintf(root, sizeof(root), "%.*s/sysfs",
					 (int)(slash - sock), sock);
		}
	}
	pthread_mutex_unlock(&root_lock);
	return root[0] ? root : "/sys";
}

const char *sim_get_sysfs_path(void)
{
	return hca_sysfs_root();
}
EXPORT(sim_get_sysfs_path, ibv_get_sysfs_path, "IBVERBS_1.0");

int sim_read_sysfs_file(const char *dir, const char *file, char *buf,
			size_t size)
{
	char path[512];
	ssize_t n;
	int fd;

	if (!size)
		return -1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size);
	close(fd);
	if (n <= 0)
		return -1;
	if ((size_t)n == size)
		n--;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return (int)n;
}
EXPORT(sim_read_sysfs_file, ibv_read_sysfs_file, "IBVERBS_1.0");
