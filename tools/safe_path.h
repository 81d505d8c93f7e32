/*
 * Creating the directories above a file that restore recreates, without
 * being steered by a symbolic link someone planted in the path.
 */
#ifndef CRSHIM_SAFE_PATH_H
#define CRSHIM_SAFE_PATH_H

#include <sys/types.h>

/*
 * mkdir -p for the parent directories of the absolute path 'path' (missing
 * ones are made with 'mode').  Each component is opened relative to the one
 * before it; a component that is a symbolic link is followed only when root
 * owns the link (as /var/run -> /run), otherwise the call fails with ELOOP.
 * A component that exists and is not a directory fails with ENOTDIR, a
 * ".." component with EINVAL.
 * Returns 0, or -1 with errno set.
 */
int safe_make_parents(const char *path, mode_t mode);

#endif
