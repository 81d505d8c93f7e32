/* Naming call sites the shim could only give as "file+0xOFFSET": the
 * shim's dladdr sees exported symbols only, the ELF symbol table has the
 * program's own functions. */
#ifndef CRSHIM_SYMBOLIZE_H
#define CRSHIM_SYMBOLIZE_H

#include <jansson.h>
#include <sys/types.h>

/* Rewrite every backtrace frame of rec's objects that names pid's
 * executable without a symbol as "exe+0xOFF (function+0xDELTA)". */
void symbolize_record(pid_t pid, json_t *rec);

#endif
