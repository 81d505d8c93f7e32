/*
 * RDMA verbs across the processes of one checkpoint.
 *
 * Each shim releases its verbs resources at PREPARE and rebuilds them
 * after a restore (or after a dump that left the processes running).  QPs
 * connect processes, so two steps need all of them at once:
 *
 * verbs_quiesce(): before any PREPARE of a dump.  Every shim stops its
 *   program's verbs calls and lets its sends complete while all peers are
 *   still receiving; a QP whose peer is not among pids fails the dump here,
 *   before anything is released.
 *
 * verbs_exchange(): after every CRIU restore finished (restored = 1), or
 *   after a dump that leaves the processes running or failed (restored =
 *   0).  Every shim recreates its objects and publishes its old -> new QP
 *   numbers, LIDs, GIDs and rkeys; the whole table goes back to every shim,
 *   which connects its QPs to the peers' new ones and lets the program go.
 *
 * pids: the processes of the checkpoint; ones without the shim or without
 * verbs are skipped.  Both return 0, or -1 with a sentence in err (then for
 * a restore the caller kills the restored processes: none is left half
 * restored).
 */
#ifndef CRSHIM_VERBS_EXCHANGE_H
#define CRSHIM_VERBS_EXCHANGE_H

#include <stddef.h>
#include <sys/types.h>

int verbs_quiesce(const pid_t *pids, int n, char *err, size_t errlen);
int verbs_exchange(const pid_t *pids, int n, int restored, char *err, size_t errlen);

#endif
