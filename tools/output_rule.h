/*
 * Which open file is an output (outputs.h): the one rule shared by
 * `crshim dump` (outputs_discover) and `crshim status`, so that status
 * lists exactly what a dump would treat as an output.
 */
#ifndef CRSHIM_OUTPUT_RULE_H
#define CRSHIM_OUTPUT_RULE_H

#include "proc.h"

/* 1 if f (from proc_read_fds) is a regular file, still named, open for
 * writing (O_WRONLY or O_RDWR) with O_APPEND at any position, or write-only
 * and positioned at its end (fdinfo's pos is read at the same time as the
 * size).  Pools and scratch files are left out by the callers, not here. */
int output_fd_is_output(const struct proc_fd *f);

#endif
