/* Pieces of `crshim dump`: the checkpoint directory, CRIU configuration,
 * manifest assembly. */
#ifndef CRSHIM_DUMP_UTIL_H
#define CRSHIM_DUMP_UTIL_H

#include "pools.h"

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dproc {
	pid_t pid;
	int dump;		/* index of its CRIU run */
	int shim;		/* has a control endpoint */
	int prepared;
	int unanswered;		/* PREPARE sent, no answer (stopped, busy): may be prepared */
	json_t *record;		/* process record (NULL without the shim) */
	int may_tcp;		/* dump_may_hold_tcp(), after PREPARE */
	int stopped;		/* stopped by a signal (only without the shim) */
};

struct drun {
	pid_t root;
	pid_t criu;		/* running CRIU, 0 when finished */
	int pidfd;		/* its pidfd while it runs, -1 if none */
	int status;		/* CRIU exit status */
	int hook_fd;		/* waiting post-dump hook, -1 if none */
	int arrived;
	double seconds;
	char images[PATH_MAX];
};

double dump_now(void);
/* 1 unless every socket pid holds is a unix socket: what decides whether
 * CRIU needs tcp-established and a network lock.  Cheap (/proc/PID/fd and
 * /proc/PID/net/unix), unlike /proc/PID/net/tcp, which walks the whole TCP
 * hash table (4 ms a read here, whatever the number of sockets). */
int dump_may_hold_tcp(pid_t pid);
/* Allocated bytes below path. */
uint64_t dump_dir_bytes(const char *path);
/* Create DIR (0700) with pools/ and dumps/; DIR must not exist or be an
 * empty directory (never a symlink). */
int dump_make_dir(const char *dir, char *err, size_t errlen);
/* The CRIU configuration of run `run`: options, external pools, hook. */
struct scratch_set;
int dump_write_criu_config(const char *path, const struct dproc *procs, int nprocs, int run,
			   const struct pool_set *pools, const struct scratch_set *scratch, json_t *outputs,
			   const char *hook, int leave_running, char *err, size_t errlen);
json_t *dump_build_manifest(const char *dir, const char *criu, int tree, int leave_running,
			    const struct dproc *procs, int nprocs, const struct drun *runs, int nruns,
			    const struct pool_set *pools, const struct scratch_set *scratch, json_t *fifos,
			    json_t *outputs);
/* SysV segments attached by a dumped process: refuse with a message. */
int dump_refuse_sysv(const struct dproc *procs, int nprocs);
void dump_remove_pool_copies(const char *dir);

#endif
