/*
 * Listening TCP ports of the dumped processes.  A restored listening socket
 * binds its port again; a connection of the job that was closed before the
 * checkpoint lingers in TIME_WAIT on that port for a minute and makes the
 * bind fail ("Address already in use") unless the program set SO_REUSEADDR
 * (Open MPI's TCP transport does not).  Such leftovers of the same job are
 * ended (SOCK_DESTROY, as `ss -K` does) before CRIU restores.
 */
#ifndef CRSHIM_TCP_PORTS_H
#define CRSHIM_TCP_PORTS_H

#include "dump_util.h"

#include <jansson.h>

/* [port, ...] the processes listen on (IPv4 and IPv6). */
json_t *tcp_listen_ports(const struct dproc *procs, int nprocs);
/* End TIME_WAIT connections whose local port is one of ports; returns how
 * many ports had some (0 when there was nothing to do). */
int tcp_clear_time_wait(json_t *ports, int verbose);

#endif
