/* Cross-checking a process record against /proc, and printing it. */
#ifndef CRSHIM_STATUS_VIEW_H
#define CRSHIM_STATUS_VIEW_H

#include <jansson.h>
#include <stdio.h>
#include <sys/types.h>

/* Adds "verified" to every mapping and fd-holding object of rec, "output":
 * true to every object /proc shows open as an output (output_rule.h), and
 * "proc": {exe, unrecorded_mappings, unrecorded_fds, unrecorded_scratch,
 * unrecorded_outputs}: what /proc shows that the shim did not record, each
 * entry with "seen_by_shim": false.  unrecorded_scratch and
 * unrecorded_outputs are the named files `crshim dump` would treat as
 * scratch or output: [{path, dev, ino, size, mode, append, fds, scratch
 * (policy, scratch only)}]. */
void status_crosscheck(pid_t pid, json_t *rec);
void status_print(FILE *f, json_t *rec);

#endif
