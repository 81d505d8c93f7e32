/* Parent directories made without following planted links (safe_path.h). */
#include "safe_path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Open component 'name' below dirfd as a directory, making it if missing. */
static int open_component(int dirfd, const char *name, mode_t mode)
{
	struct stat st;
	int fd;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -1;
		if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
			return -1;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		/* A user's link could point anywhere; root's are the system's. */
		if (st.st_uid != 0) {
			errno = ELOOP;
			return -1;
		}
		fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	return fd;
}

int safe_make_parents(const char *path, mode_t mode)
{
	char buf[4096];
	char *name, *slash;
	int dirfd, saved;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(buf)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	name = buf + 1;
	while (dirfd >= 0 && (slash = strchr(name, '/'))) {
		int next;

		*slash = 0;
		if (*name == 0 || strcmp(name, ".") == 0) { /* "//" or "/./" */
			name = slash + 1;
			continue;
		}
		if (strcmp(name, "..") == 0) { /* a recorded path is canonical */
			close(dirfd);
			errno = EINVAL;
			return -1;
		}
		next = open_component(dirfd, name, mode);
		saved = errno;
		close(dirfd);
		errno = saved;
		dirfd = next;
		name = slash + 1;
	}
	if (dirfd < 0)
		return -1;
	close(dirfd);
	return 0;
}
