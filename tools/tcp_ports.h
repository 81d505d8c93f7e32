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

/* One line of /proc/net/tcp or /proc/net/tcp6. */
struct tcp_line {
	char local[64], remote[64];	/* "ADDR:PORT", hex, as the kernel prints them */
	unsigned local_port;
	unsigned state;			/* 0x01 established, 0x06 time-wait, 0x0A listen */
	unsigned long inode;
};
/* Parse one line: 0, or -1 for the header and anything malformed.
 * (Exposed for the fuzzers.) */
int tcp_parse_line(const char *line, struct tcp_line *t);
/* The address of a local/remote field ("0100007F:1F90", or 32 hex digits
 * for tcp6) as bytes in network order (4 or 16 of addr), and its port;
 * 0, or -1 if the field is not exactly that. */
int tcp_parse_addr(const char *field, int v6, unsigned char addr[16], unsigned *port);
#define CRSHIM_TCP_PARSE_LINE 1

/* [port, ...] the processes listen on (IPv4 and IPv6). */
json_t *tcp_listen_ports(const struct dproc *procs, int nprocs);
/* End TIME_WAIT connections whose local port is one of ports; returns how
 * many ports had some (0 when there was nothing to do). */
int tcp_clear_time_wait(json_t *ports, int verbose);

#endif
