/*
 * crshim control protocol: how the `crshim` command talks to the shim
 * loaded in a process.
 *
 * Endpoint: a unix stream socket bound at RUNDIR/PID.sock, where RUNDIR is
 * CRSHIM_RUNDIR or, by default, /tmp/crshim-UID (created mode 0700 and
 * refused if it is not a directory owned by UID).  The socket itself is
 * mode 0600.  The shim checks SO_PEERCRED on every connection and refuses
 * (closes without answering) a peer whose uid is neither its own nor 0.
 *
 * One request per connection: the client writes one line, the shim answers
 * with one JSON document and closes the connection.  Between requests the
 * shim's control thread holds nothing but the listening socket, so CRIU can
 * dump a process whose endpoint is idle and restore it (it binds the same
 * path again).
 *
 * Requests (more are added by later layers; unknown ones get
 * {"ok":false,"error":"unknown request"}):
 *   PING            -> {"ok":true,"pid":N,"version":"X.Y.Z","phase":"running"}
 *   STATUS          -> {"ok":true, ...the process record, see crshim_manifest.h}
 *   PREPARE         -> quiesce for a checkpoint; answers the process record
 *                      with "phase":"prepared"
 *   RESUME          -> leave the prepared state (dump done, or failed); the
 *                      shim also leaves it by itself when the process that
 *                      sent PREPARE has ended without RESUME (preparer.c)
 *   RESTORED        -> the process was restored from an image; the shim
 *                      learns its pools' new identities and rebuilds
 *   PARK            -> stop every other thread of the program (a signal,
 *                      SIGRTMAX-2, whose handler waits); {"parked":N}
 *   SWAP PATH N START-END:OFFSET:PROT... M FD...   with a file passed as
 *                      SCM_RIGHTS: map the file MAP_SHARED|MAP_FIXED over
 *                      each range and dup3 it over each fd (only while
 *                      parked; used to move memfd and SysV memory onto a
 *                      file CRIU can treat as an external pool)
 *   UNPARK          -> let the threads go; the registry learns the swaps
 * The verbs layer (preload/verbs_control.c) adds, for a checkpoint of
 * processes whose queue pairs are connected to each other:
 *   VERBS_TABLE     -> {"ok":true,"pid":N, verbs_state, verbs, ports, qps,
 *                      rkeys}: the translation table (virtual to real LIDs,
 *                      QP numbers and changed rkeys)
 *   VERBS_QUIESCE   -> close the gate (new verbs calls wait), drain the
 *                      signalled sends; answers the table
 *   VERBS_REBUILD   -> recreate released objects, QPs up to INIT; answers
 *                      the table with the new real values
 *   VERBS_CONNECT   with the merged peer table of every process of the
 *                      checkpoint passed as SCM_RIGHTS: QPs to RTR/RTS
 *                      with the peers' new QP numbers and LIDs, receives
 *                      re-posted
 *   VERBS_GO        -> open the gate: the program's verbs calls go on
 *   A shim without the verbs layer answers "verbs layer is off".
 * Every answer has "ok"; failures carry "error" with a sentence.
 */
#ifndef CRSHIM_CONTROL_H
#define CRSHIM_CONTROL_H

#define CRSHIM_CONTROL_SUFFIX ".sock"
#define CRSHIM_CONTROL_MAX_REQUEST 4096
/* Largest answer the shim writes (the process record). */
#define CRSHIM_CONTROL_MAX_ANSWER (64u << 20)

#endif
