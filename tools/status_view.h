/* Cross-checking a process record against /proc, and printing it. */
#ifndef CRSHIM_STATUS_VIEW_H
#define CRSHIM_STATUS_VIEW_H

#include <jansson.h>
#include <stdio.h>
#include <sys/types.h>

/* Adds "verified" to every mapping and fd-holding object of rec, and
 * "proc": {exe, unrecorded_mappings, unrecorded_fds}. */
void status_crosscheck(pid_t pid, json_t *rec);
void status_print(FILE *f, json_t *rec);

#endif
