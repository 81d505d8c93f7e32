/* Which open file is an output (output_rule.h). */
#include "output_rule.h"

#include <fcntl.h>
#include <sys/stat.h>

int output_fd_is_output(const struct proc_fd *f)
{
	int acc = f->flags & O_ACCMODE;

	if (!S_ISREG(f->mode) || f->target[0] != '/' || f->deleted)
		return 0;
	if ((f->flags & O_APPEND) && (acc == O_WRONLY || acc == O_RDWR))
		return 1;
	return acc == O_WRONLY && f->pos >= f->size;
}
