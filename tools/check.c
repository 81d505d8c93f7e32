/*
 * The analysis behind `crshim check`: judge every resource of a process
 * tree against what CRIU 4.x dumps (see check.h).
 *
 * What CRIU refuses was read from its sources (criu/files.c dump_one_file
 * and dump_chrdev, criu/sockets.c dump_socket, criu/sk-inet.c
 * can_dump_ipproto and can_dump_inet_sk, criu/sk-netlink.c, criu/sk-unix.c
 * dump_external_sockets, criu/tun.c, criu/proc_parse.c handle_vma,
 * criu/mem.c check_sysvipc_map_dump, criu/files-reg.c ghost files,
 * criu/namespaces.c) and confirmed by tests/integration/test_check.sh
 * against a real CRIU.  The lists are deliberately conservative: what is not
 * known to dump is reported.
 */
#include "check.h"

#include "control_client.h"
#include "proc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#define CAP_CHECKPOINT_RESTORE_BIT 40
#define MAX_TREE 65536

/* ---------------------------------------------------------------- sockets */

enum sk_kind { SK_NONE, SK_UNIX, SK_TCP, SK_UDP, SK_UDPLITE, SK_RAW, SK_PING, SK_NETLINK, SK_PACKET };

/* One socket as /proc/PID/net/<table> describes it. */
struct sk {
	uint64_t ino;
	int kind;
	int type;		/* unix and packet: SOCK_* */
	int state;		/* tcp state; unix: SS_* (3 = connected) */
	int listening;		/* unix: __SO_ACCEPTCON */
	int proto;		/* netlink protocol */
	uint32_t rq;		/* tcp/udp rx queue, netlink Rmem */
	char addr[112];		/* inet: remote address; unix: bound path */
};

struct sktab {
	uint64_t netns;		/* the namespace these tables describe */
	struct sk *v;
	int n, cap;
};

/* A connected unix socket whose peer is checked once the tree is known. */
struct upend {
	pid_t pid;
	int fd;
	uint64_t ino;
	int type;
	int other_netns;	/* not in crshim's network namespace: peer unknown */
	int shim;		/* the holder has the shim and it answers */
};

struct ns_ids {
	uint64_t net, ipc, pid, mnt;
};

/* Inodes of netlink sockets subscribed to a multicast group above 32. */
struct nl_high {
	uint64_t ino[256];
	int n;
	int loaded;		/* -1: could not ask sock_diag */
};

/* State of one check_process() call. */
struct ctx {
	struct check_report *rep;
	pid_t pid;		/* the process being analysed */
	int shim;		/* the shim is loaded in it and answers */
	int ldso;		/* a dynamic loader is mapped in it */
	struct ns_ids self, cur;
	struct sktab sk;
	char (*seen)[80];	/* keys of resources already reported for pid */
	int nseen, capseen;
	uint64_t *socks;	/* socket inodes held anywhere in the tree */
	int nsocks, capsocks;
	struct upend *pend;
	int npend, cappend;
	struct nl_high nl;
	pid_t vb_pid;		/* the process vb_held is about (0: none asked yet) */
	int vb_held;		/* its shim holds a verbs device (VERBS_TABLE), see verbs_held */
	int oom;
};

/* Make room for one more element in a growable array. */
static int grow(void **v, int *cap, int n, size_t size)
{
	void *p;
	int ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*v, (size_t)ncap * size);
	if (!p)
		return -1;
	*v = p;
	*cap = ncap;
	return 0;
}

/* ------------------------------------------------------------------ items */

static int seen_before(struct ctx *c, const char *key)
{
	int i;

	if (!key)
		return 0;
	for (i = 0; i < c->nseen; i++)
		if (!strcmp(c->seen[i], key))
			return 1;
	if (grow((void **)&c->seen, &c->capseen, c->nseen, sizeof(*c->seen))) {
		c->oom = 1;
		return 0;
	}
	snprintf(c->seen[c->nseen++], sizeof(*c->seen), "%s", key);
	return 0;
}

/* Report one item; key (may be NULL) reports a resource once per process. */
__attribute__((format(printf, 5, 6)))
static void add(struct ctx *c, int sev, const char *key, const char *what, const char *fmt, ...)
{
	struct check_report *rep = c->rep;
	struct check_item *it;
	va_list ap;

	if (seen_before(c, key))
		return;
	if (grow((void **)&rep->items, &rep->cap, rep->nitems, sizeof(*it))) {
		c->oom = 1;
		return;
	}
	it = &rep->items[rep->nitems++];
	it->severity = sev;
	it->pid = c->pid;
	snprintf(it->what, sizeof(it->what), "%s", what);
	va_start(ap, fmt);
	vsnprintf(it->reason, sizeof(it->reason), fmt, ap);
	va_end(ap);
}

const char *check_severity_name(int severity)
{
	switch (severity) {
	case CHECK_OK:
		return "ok";
	case CHECK_HANDLED:
		return "handled";
	case CHECK_WARN:
		return "warn";
	case CHECK_BLOCKER:
		return "blocker";
	}
	return "?";
}

int check_report_count(const struct check_report *rep, int severity)
{
	int i, n = 0;

	for (i = 0; i < rep->nitems; i++)
		n += rep->items[i].severity == severity;
	return n;
}

int check_report_dumpable(const struct check_report *rep)
{
	return check_report_count(rep, CHECK_BLOCKER) == 0;
}

void check_report_free(struct check_report *rep)
{
	free(rep->items);
	rep->items = NULL;
	rep->nitems = 0;
	rep->cap = 0;
}

/* ----------------------------------------------------------- small helpers */

static int read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

static uint64_t ns_ino(pid_t pid, const char *ns)
{
	char path[64];
	struct stat st;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	return stat(path, &st) ? 0 : st.st_ino;
}

static void read_ns(pid_t pid, struct ns_ids *ns)
{
	ns->net = ns_ino(pid, "net");
	ns->ipc = ns_ino(pid, "ipc");
	ns->pid = ns_ino(pid, "pid");
	ns->mnt = ns_ino(pid, "mnt");
}

/* A namespace of pid differs from crshim's own (unknown counts as same). */
static int ns_differs(uint64_t theirs, uint64_t ours)
{
	return theirs && ours && theirs != ours;
}

static void read_comm(pid_t pid, char *out, size_t len)
{
	char path[64];
	char *nl;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (read_small(path, out, len) < 0) {
		snprintf(out, len, "?");
		return;
	}
	nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
}

/* Copy path without the " (deleted)" the kernel appends to unlinked files. */
static void strip_deleted(const char *path, char *out, size_t len)
{
	static const char suffix[] = " (deleted)";
	size_t n = strlen(path), s = sizeof(suffix) - 1;

	if (n >= s && !strcmp(path + n - s, suffix))
		n -= s;
	if (n >= len)
		n = len - 1;
	memcpy(out, path, n);
	out[n] = '\0';
}

static int has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void human_size(uint64_t n, char *out, size_t len)
{
	if (n >= (1u << 20))
		snprintf(out, len, "%.1f MiB", (double)n / (1u << 20));
	else if (n >= 1024)
		snprintf(out, len, "%.1f KiB", (double)n / 1024);
	else
		snprintf(out, len, "%" PRIu64 " bytes", n);
}

/* ------------------------------------------------------------ /proc/PID/status */

struct pstatus {
	char state;
	int kthread;		/* "Kthread: 1" (Linux 6.4 and later) */
	int has_vm;		/* a "VmSize:" line: the task has an mm */
	pid_t ppid;
	pid_t tracer;
	uid_t uid;
	pid_t inner_pid;	/* last NSpid entry: the pid inside its own namespace */
	pid_t inner_sid;	/* last NSsid entry: 0 when the session leader is outside it */
};

static int read_status(pid_t pid, struct pstatus *ps)
{
	char path[64], buf[16384], *line, *save;

	memset(ps, 0, sizeof(*ps));
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	ps->inner_pid = pid;
	ps->inner_sid = -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (has_prefix(line, "State:"))
			sscanf(line + 6, " %c", &ps->state);
		else if (has_prefix(line, "TracerPid:"))
			ps->tracer = atoi(line + 10);
		else if (has_prefix(line, "PPid:"))
			ps->ppid = atoi(line + 5);
		else if (has_prefix(line, "VmSize:"))
			ps->has_vm = 1;
		else if (has_prefix(line, "Kthread:"))
			ps->kthread = atoi(line + 8);
		else if (has_prefix(line, "Uid:"))
			ps->uid = (uid_t)strtoul(line + 4, NULL, 10);
		else if (has_prefix(line, "NSpid:")) {
			char *last = strrchr(line, '\t');

			ps->inner_pid = atoi(last ? last + 1 : line + 6);
		} else if (has_prefix(line, "NSsid:")) {
			char *last = strrchr(line, '\t');

			ps->inner_sid = atoi(last ? last + 1 : line + 6);
		}
	}
	return 0;
}

/* ------------------------------------------------------------ socket tables */

static int sktab_add(struct sktab *t, const struct sk *s)
{
	if (grow((void **)&t->v, &t->cap, t->n, sizeof(*s)))
		return -1;
	t->v[t->n++] = *s;
	return 0;
}

/* "0100007F:0277" as the kernel prints it (words in host order) to text. */
static void fmt_inet(const char *hex, unsigned port, int v6, char *out, size_t len)
{
	char text[INET6_ADDRSTRLEN] = "?";
	uint32_t w[4] = { 0 };
	int i;

	for (i = 0; i < (v6 ? 4 : 1); i++)
		sscanf(hex + 8 * i, "%8x", &w[i]);
	inet_ntop(v6 ? AF_INET6 : AF_INET, w, text, sizeof(text));
	snprintf(out, len, v6 ? "[%s]:%u" : "%s:%u", text, port);
}

/* tcp, udp, udplite, raw, icmp (ping) and their v6 twins share a format. */
static void parse_inet(struct sktab *t, pid_t pid, const char *name, int kind, int v6)
{
	char path[64], line[512], rem[40];
	unsigned rport, st, txq, rxq;
	unsigned long ino;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, name);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		struct sk s = { .kind = kind };

		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%*x %39[0-9A-Fa-f]:%x %x %x:%x %*x:%*x %*x %*u %*d %lu",
			   rem, &rport, &st, &txq, &rxq, &ino) != 6)
			continue;
		s.ino = ino;
		s.state = (int)st;
		s.rq = rxq;
		fmt_inet(rem, rport, v6, s.addr, sizeof(s.addr));
		sktab_add(t, &s);
	}
	fclose(f);
}

static void parse_unix(struct sktab *t, pid_t pid)
{
	unsigned flags, type, st;
	char path[64], line[512];
	unsigned long ino;
	FILE *f;
	int off;

	snprintf(path, sizeof(path), "/proc/%d/net/unix", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		struct sk s = { .kind = SK_UNIX };

		off = 0;
		if (sscanf(line, "%*x: %*x %*x %x %x %x %lu %n", &flags, &type, &st, &ino, &off) != 4)
			continue;
		s.ino = ino;
		s.type = (int)type;
		s.state = (int)st;
		s.listening = !!(flags & 0x10000);	/* __SO_ACCEPTCON */
		if (off)
			sscanf(line + off, "%111[^\n]", s.addr);
		sktab_add(t, &s);
	}
	fclose(f);
}

static void parse_netlink(struct sktab *t, pid_t pid)
{
	char path[64], line[512];
	unsigned rmem;
	unsigned long ino;
	int proto;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/netlink", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	/* sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode */
	while (fgets(line, sizeof(line), f)) {
		struct sk s = { .kind = SK_NETLINK };

		if (sscanf(line, "%*x %d %*u %*x %u %*u %*d %*d %*u %lu", &proto, &rmem, &ino) != 3)
			continue;
		s.ino = ino;
		s.proto = proto;
		s.rq = rmem;
		sktab_add(t, &s);
	}
	fclose(f);
}

static void parse_packet(struct sktab *t, pid_t pid)
{
	char path[64], line[512];
	unsigned long ino;
	int type;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/packet", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	/* sk RefCnt Type Proto Iface R Rmem User Inode */
	while (fgets(line, sizeof(line), f)) {
		struct sk s = { .kind = SK_PACKET };

		if (sscanf(line, "%*x %*d %d %*x %*d %*d %*u %*u %lu", &type, &ino) != 2)
			continue;
		s.ino = ino;
		s.type = type;
		sktab_add(t, &s);
	}
	fclose(f);
}

/* Load the tables of pid's network namespace unless already loaded. */
static void sktab_load(struct sktab *t, pid_t pid, uint64_t netns)
{
	if (t->n && t->netns == netns)
		return;
	t->n = 0;
	t->netns = netns;
	parse_unix(t, pid);
	parse_inet(t, pid, "tcp", SK_TCP, 0);
	parse_inet(t, pid, "tcp6", SK_TCP, 1);
	parse_inet(t, pid, "udp", SK_UDP, 0);
	parse_inet(t, pid, "udp6", SK_UDP, 1);
	parse_inet(t, pid, "udplite", SK_UDPLITE, 0);
	parse_inet(t, pid, "udplite6", SK_UDPLITE, 1);
	parse_inet(t, pid, "raw", SK_RAW, 0);
	parse_inet(t, pid, "raw6", SK_RAW, 1);
	parse_inet(t, pid, "icmp", SK_PING, 0);
	parse_inet(t, pid, "icmp6", SK_PING, 1);
	parse_netlink(t, pid);
	parse_packet(t, pid);
}

static const struct sk *sktab_find(const struct sktab *t, uint64_t ino)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].ino == ino)
			return &t->v[i];
	return NULL;
}

/* ------------------------------------------------------------- sock_diag */

typedef void (*diag_fn)(const struct nlmsghdr *h, void *arg);

/*
 * Run one NETLINK_SOCK_DIAG dump in crshim's own network namespace and
 * call fn on every answer.  Used only when the process shares it.
 */
static int diag_dump(void *req, size_t len, diag_fn fn, void *arg)
{
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	static char buf[32768];
	int sk, done = 0;
	ssize_t n;

	sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (sk < 0)
		return -1;
	if (sendto(sk, req, len, 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		goto fail;
	while (!done && (n = recv(sk, buf, sizeof(buf), 0)) > 0) {
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		for (; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = h->nlmsg_type == NLMSG_DONE ? 1 : -1;
				break;
			}
			fn(h, arg);
		}
	}
	close(sk);
	return done == 1 ? 0 : -1;
fail:
	close(sk);
	return -1;
}

struct peer_map {
	uint64_t (*v)[2];	/* {socket inode, peer inode} */
	int n, cap;
};

static void unix_peer_one(const struct nlmsghdr *h, void *arg)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	struct peer_map *pm = arg;
	struct rtattr *a = (struct rtattr *)(m + 1);
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type != UNIX_DIAG_PEER)
			continue;
		if (grow((void **)&pm->v, &pm->cap, pm->n, sizeof(*pm->v)))
			return;
		pm->v[pm->n][0] = m->udiag_ino;
		pm->v[pm->n][1] = *(const uint32_t *)RTA_DATA(a);
		pm->n++;
	}
}

static int unix_peers(struct peer_map *pm)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_show = UDIAG_SHOW_PEER },
	};

	return diag_dump(&req, sizeof(req), unix_peer_one, pm);
}

static uint64_t peer_of(const struct peer_map *pm, uint64_t ino)
{
	int i;

	for (i = 0; i < pm->n; i++)
		if (pm->v[i][0] == ino)
			return pm->v[i][1];
	return 0;
}

static void netlink_groups_one(const struct nlmsghdr *h, void *arg)
{
	const struct netlink_diag_msg *m = NLMSG_DATA(h);
	struct rtattr *a = (struct rtattr *)(m + 1);
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	struct nl_high *hi = arg;
	const uint32_t *g;
	size_t i;

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type != NETLINK_DIAG_GROUPS)
			continue;
		g = RTA_DATA(a);
		for (i = 1; i < RTA_PAYLOAD(a) / sizeof(*g); i++)
			if (g[i] && hi->n < (int)(sizeof(hi->ino) / sizeof(hi->ino[0])))
				hi->ino[hi->n++] = m->ndiag_ino;
	}
}

/* Ask sock_diag once per check which netlink sockets have groups above 32. */
static int netlink_high_groups(struct nl_high *hi)
{
	struct {
		struct nlmsghdr h;
		struct netlink_diag_req r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_NETLINK, .sdiag_protocol = NDIAG_PROTO_ALL,
		       .ndiag_show = NDIAG_SHOW_GROUPS },
	};

	if (!hi->loaded) {
		hi->n = 0;
		hi->loaded = diag_dump(&req, sizeof(req), netlink_groups_one, hi) ? -1 : 1;
	}
	return hi->loaded < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- sockets */

static const char *netlink_proto_name(int proto)
{
	static const char *const names[] = {
		[0] = "NETLINK_ROUTE", [2] = "NETLINK_USERSOCK", [3] = "NETLINK_FIREWALL",
		[4] = "NETLINK_SOCK_DIAG", [5] = "NETLINK_NFLOG", [6] = "NETLINK_XFRM",
		[7] = "NETLINK_SELINUX", [8] = "NETLINK_ISCSI", [9] = "NETLINK_AUDIT",
		[10] = "NETLINK_FIB_LOOKUP", [11] = "NETLINK_CONNECTOR", [12] = "NETLINK_NETFILTER",
		[13] = "NETLINK_IP6_FW", [14] = "NETLINK_DNRTMSG", [15] = "NETLINK_KOBJECT_UEVENT",
		[16] = "NETLINK_GENERIC", [18] = "NETLINK_SCSITRANSPORT", [19] = "NETLINK_ECRYPTFS",
		[20] = "NETLINK_RDMA", [21] = "NETLINK_CRYPTO", [22] = "NETLINK_SMC",
	};

	if (proto >= 0 && proto < (int)(sizeof(names) / sizeof(names[0])) && names[proto])
		return names[proto];
	return "netlink";
}

static void check_netlink(struct ctx *c, const struct sk *s, const char *what)
{
	const char *name = netlink_proto_name(s->proto);
	int i;

	if (s->rq) {
		add(c, CHECK_BLOCKER, NULL, what,
		    "%s socket with %u bytes of unread messages: CRIU refuses a netlink socket "
		    "with data to read", name, s->rq);
		return;
	}
	/* /proc shows only the first 32 groups; ask sock_diag about the rest */
	if (!ns_differs(c->cur.net, c->self.net) && netlink_high_groups(&c->nl) == 0)
		for (i = 0; i < c->nl.n; i++)
			if (c->nl.ino[i] == s->ino) {
				add(c, CHECK_BLOCKER, NULL, what,
				    "%s socket subscribed to a multicast group above 32: "
				    "CRIU cannot dump it", name);
				return;
			}
	/* CRIU re-creates protocol, port id and groups; nothing else */
	if (s->proto == 0 || s->proto == 4 || s->proto == 15)
		add(c, CHECK_OK, NULL, what, "%s socket: CRIU re-creates it", name);
	else
		add(c, CHECK_WARN, NULL, what,
		    "%s socket: CRIU re-creates the socket and its bindings but no kernel-side "
		    "state (generic netlink family ids, audit or netfilter registrations)", name);
}

static void check_tcp(struct ctx *c, const struct sk *s, const char *what)
{
	switch (s->state) {
	case 7:		/* TCP_CLOSE: not bound or not connected yet */
		return;
	case 10:	/* TCP_LISTEN: rx queue is the accept backlog */
		if (s->rq)
			add(c, CHECK_WARN, NULL, what,
			    "listening TCP socket with %u connections not accepted yet: CRIU "
			    "refuses unless --skip-in-flight (they are dropped)", s->rq);
		else
			add(c, CHECK_OK, NULL, what, "listening TCP socket: CRIU dumps it");
		return;
	}
	add(c, CHECK_WARN, NULL, what,
	    "TCP connection to %s: needs --tcp-established, and the peer must keep the "
	    "connection open until the restore", s->addr);
}

static void check_inet(struct ctx *c, const struct sk *s, const char *what)
{
	switch (s->kind) {
	case SK_TCP:
		check_tcp(c, s, what);
		break;
	case SK_UDP:
	case SK_UDPLITE:
		if (s->rq)
			add(c, CHECK_WARN, NULL, what,
			    "UDP socket with %u bytes of unread datagrams: CRIU drops them", s->rq);
		break;
	case SK_RAW:
		add(c, CHECK_OK, NULL, what, "raw IP socket: CRIU dumps it");
		break;
	case SK_PING:
		add(c, CHECK_BLOCKER, NULL, what,
		    "ICMP (ping) socket: CRIU dumps only TCP, UDP, UDP-Lite and raw IP sockets");
		break;
	}
}

/* Family of a socket that is in none of the tables (unbound, or exotic). */
static void check_unlisted_socket(struct ctx *c, int fd, const char *what)
{
	static const char *const fine[] = { "UNIX", "UNIX-STREAM", "TCP", "TCPv6", "UDP", "UDPv6",
					    "UDP-Lite", "UDPLITEv6", "RAW", "RAWv6", "NETLINK",
					    "PACKET" };
	char path[64], name[64];
	ssize_t n;
	size_t i;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", c->pid, fd);
	n = getxattr(path, "system.sockprotoname", name, sizeof(name) - 1);
	if (n <= 0) {
		add(c, CHECK_WARN, NULL, what, "socket of unknown family: could not check it");
		return;
	}
	name[n] = '\0';
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		if (!strcmp(name, fine[i]))
			return;		/* unbound, unconnected: trivial for CRIU */
	if (has_prefix(name, "PING"))
		add(c, CHECK_BLOCKER, NULL, what,
		    "ICMP (ping) socket: CRIU dumps only TCP, UDP, UDP-Lite and raw IP sockets");
	else
		add(c, CHECK_BLOCKER, NULL, what,
		    "%s socket: CRIU dumps only unix, TCP, UDP, UDP-Lite, raw IP, packet and "
		    "netlink sockets", name);
}

static void note_socket(struct ctx *c, uint64_t ino)
{
	if (grow((void **)&c->socks, &c->capsocks, c->nsocks, sizeof(*c->socks))) {
		c->oom = 1;
		return;
	}
	c->socks[c->nsocks++] = ino;
}

/* A connected unix socket: its peer must be in the tree (see check_unix_peers). */
static void check_unix(struct ctx *c, int fd, const struct sk *s)
{
	if (s->state != 3 || s->listening)	/* SS_CONNECTED */
		return;
	if (grow((void **)&c->pend, &c->cappend, c->npend, sizeof(*c->pend))) {
		c->oom = 1;
		return;
	}
	c->pend[c->npend++] = (struct upend){ c->pid, fd, s->ino, s->type,
					       ns_differs(c->cur.net, c->self.net), c->shim };
}

static void check_socket(struct ctx *c, int fd, uint64_t ino, const char *what)
{
	const struct sk *s = sktab_find(&c->sk, ino);

	note_socket(c, ino);
	if (!s) {
		check_unlisted_socket(c, fd, what);
		return;
	}
	switch (s->kind) {
	case SK_UNIX:
		check_unix(c, fd, s);
		break;
	case SK_NETLINK:
		check_netlink(c, s, what);
		break;
	case SK_PACKET:
		add(c, CHECK_OK, NULL, what,
		    "packet socket: CRIU dumps it (restore needs root and the same interface)");
		break;
	default:
		check_inet(c, s, what);
	}
}

/* ------------------------------------------------------------ anon inodes */

/* Kinds CRIU has a dumper for (criu/files.c dump_one_file). */
static int anon_supported(const char *name)
{
	static const char *const ok[] = { "[eventfd]", "[eventpoll]", "inotify", "[fanotify]",
					  "[signalfd]", "[timerfd]", "[pidfd]" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(name, ok[i]))
			return 1;
	return 0;
}

static const char *anon_reason(const char *name)
{
	if (!strcmp(name, "[io_uring]"))
		return "io_uring instance: CRIU cannot dump io_uring (its rings and in-flight "
		       "requests live in the kernel)";
	if (!strcmp(name, "[perf_event]"))
		return "perf event: CRIU cannot dump perf events";
	if (!strcmp(name, "[userfaultfd]"))
		return "userfaultfd: CRIU cannot dump a process holding one";
	if (has_prefix(name, "bpf"))
		return "BPF object: CRIU cannot dump BPF programs and links";
	if (has_prefix(name, "kvm"))
		return "KVM virtual machine or vCPU: CRIU cannot dump it";
	return "anon inode file CRIU has no dumper for";
}

static void check_anon(struct ctx *c, const char *name, const char *what)
{
	if (anon_supported(name))
		return;
	if (!strcmp(name, "bpf-map")) {
		add(c, CHECK_WARN, NULL, what, "BPF map: dumped only by a CRIU built with libbpf");
		return;
	}
	add(c, CHECK_BLOCKER, NULL, what, "%s", anon_reason(name));
}

/* ---------------------------------------------------------------- devices */

static int is_uverbs(const char *path)
{
	return has_prefix(path, "/dev/infiniband/uverbs");
}

static int is_tty_major(unsigned maj)
{
	/* tty, ttyaux (/dev/tty, console, ptmx), unix98 pty masters and slaves */
	return maj == 4 || maj == 5 || (maj >= 128 && maj <= 143);
}

/*
 * Does the shim of pid hold its verbs device?  Only then does PREPARE
 * release the device (and CRIU find no verbs fd, mapping or HCA socket):
 * the verbs layer must be on (VERBS_TABLE answers, preload/verbs_control.c)
 * and the device opened through it ("verbs": true).  Asked once per pid.
 */
static int verbs_held(struct ctx *c, pid_t pid, int shim)
{
	json_t *ans = NULL;
	char err[256];

	if (!shim)
		return 0;
	if (c->vb_pid == pid)
		return c->vb_held;
	c->vb_pid = pid;
	c->vb_held = -1;	/* the shim answers, but not for verbs */
	if (ctl_request(pid, "VERBS_TABLE", 1000, &ans, err, sizeof(err)) == CTL_OK)
		c->vb_held = json_is_true(json_object_get(ans, "verbs")) ? 1 : -1;
	json_decref(ans); /* a refusal ("verbs layer is off") comes with its answer too */
	return c->vb_held;
}

/* The verbs resource "what" (held by c->pid): handled or a blocker. */
static void report_verbs(struct ctx *c, int held, const char *key, const char *what, const char *res,
			 const char *criu_says)
{
	if (held > 0)
		add(c, CHECK_HANDLED, key, what,
		    "%s: crshim releases the verbs resources before the dump and rebuilds them after",
		    res);
	else if (held < 0)
		add(c, CHECK_BLOCKER, key, what,
		    "verbs resources the shim does not hold (its verbs layer is off, CRSHIM_HOOKS, or "
		    "the device was opened around it): %s; %s", res, criu_says);
	else
		add(c, CHECK_BLOCKER, key, what, "verbs resources held by a process without the shim: %s; %s",
		    res, criu_says);
}

static void check_verbs(struct ctx *c, const char *what, const char *key, int map)
{
	report_verbs(c, verbs_held(c, c->pid, c->shim), key, what,
		     map ? "verbs doorbell page" : "verbs device",
		     map ? "CRIU cannot handle non-regular mappings" : "CRIU cannot dump the device file");
}

/* An fd on a character device (criu/files.c dump_chrdev). */
static void check_chrdev_fd(struct ctx *c, const char *path, dev_t rdev, const char *what)
{
	unsigned maj = major(rdev), min = minor(rdev);

	if (maj == 1 || is_tty_major(maj))	/* mem devices, terminals */
		return;
	if (maj == 10 && min == 235)		/* autofs */
		return;
	if (maj == 10 && min == 200) {		/* /dev/net/tun */
		if (ns_differs(c->cur.net, c->self.net))
			add(c, CHECK_OK, NULL, what, "tun device: CRIU dumps it with the network namespace");
		else
			add(c, CHECK_BLOCKER, NULL, what,
			    "tun device: CRIU dumps it only together with the process's own network "
			    "namespace");
		return;
	}
	if (is_uverbs(path)) {
		check_verbs(c, what, NULL, 0);
		return;
	}
	add(c, CHECK_BLOCKER, NULL, what,
	    "device file CRIU cannot dump (chr %u:%u): its state lives in the driver", maj, min);
}

/* ------------------------------------------------------------------ files */

static int under_tmp(const char *path)
{
	return has_prefix(path, "/dev/shm/") || has_prefix(path, "/tmp/");
}

static void check_ghost(struct ctx *c, const char *what, const char *key, uint64_t size)
{
	char sz[32];

	human_size(size, sz, sizeof(sz));
	if (size <= CHECK_GHOST_LIMIT)
		add(c, CHECK_OK, key, what, "unlinked file (%s): CRIU copies it into the image", sz);
	else if (c->shim)
		add(c, CHECK_HANDLED, key, what,
		    "unlinked file of %s: crshim keeps it as a pool (CRIU alone stops at its "
		    "1 MiB ghost limit)", sz);
	else
		add(c, CHECK_BLOCKER, key, what,
		    "unlinked file of %s held open or mapped: over CRIU's ghost-limit (1 MiB), "
		    "the dump fails", sz);
}

/*
 * A named file that will not survive the node: CRIU stores only its path
 * (and never the contents of a shared mapping), so the restore needs it.
 * tmpfs files always count; a shared mapping under /tmp counts too (the
 * session files of MPI launchers), a log file under /tmp does not.
 */
static void check_tmp_file(struct ctx *c, const char *what, const char *key, const char *link,
			   const char *path, int shared_map)
{
	struct statfs sfs;
	int tmpfs = !statfs(link, &sfs) && sfs.f_type == TMPFS_MAGIC;

	if (!tmpfs && !(shared_map && under_tmp(path)))
		return;
	if (c->shim)
		add(c, CHECK_HANDLED, key, what,
		    "named shared file on %s: crshim saves it with the checkpoint",
		    tmpfs ? "tmpfs" : "/tmp");
	else
		add(c, CHECK_WARN, key, what,
		    "named shared file on %s, lost when the node is cleaned: CRIU stores only "
		    "its path and the restore fails without it", tmpfs ? "tmpfs" : "/tmp");
}

/*
 * A regular file reached through link (/proc/PID/fd/N or map_files/A-B);
 * path is its name, deleted whether the kernel marked it " (deleted)".
 * map: 0 for an fd, 1 for a private mapping, 2 for a shared one.
 */
static void check_regular(struct ctx *c, const char *what, const char *link, const char *path,
			  int deleted, int map)
{
	char name[4096], key[80], sz[32];
	struct stat st;

	strip_deleted(path, name, sizeof(name));
	if (stat(link, &st) && (deleted || stat(name, &st)))
		return;
	if (!S_ISREG(st.st_mode))
		return;
	snprintf(key, sizeof(key), "file:%" PRIx64 ":%" PRIu64, (uint64_t)st.st_dev,
		 (uint64_t)st.st_ino);
	if (has_prefix(name, "/memfd:")) {
		human_size((uint64_t)st.st_size, sz, sizeof(sz));
		add(c, CHECK_OK, key, what, "memfd (%s): CRIU saves its contents", sz);
	} else if (st.st_nlink == 0) {
		check_ghost(c, what, key, (uint64_t)st.st_size);
	} else if (deleted) {
		add(c, CHECK_WARN, key, what,
		    "open through a removed name while other links remain: needs --link-remap");
	} else if (map != 1) {
		check_tmp_file(c, what, key, link, name, map == 2);
	}
}

/* Held locks make CRIU refuse the dump unless asked to take them along. */
static void check_locks(struct ctx *c, int fd, const char *what)
{
	char path[64], buf[4096];

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", c->pid, fd);
	if (read_small(path, buf, sizeof(buf)) < 0 || !strstr(buf, "\nlock:"))
		return;
	add(c, CHECK_WARN, "locks", what,
	    "holds a file lock: needs --file-locks (CRIU refuses held locks otherwise)");
}

static void check_fd(struct ctx *c, const struct proc_fd *f)
{
	char what[CHECK_WHAT_MAX], link[64];
	unsigned long ino;
	struct stat st;

	snprintf(what, sizeof(what), "fd %d -> %.280s%s", f->fd, f->target,
		 f->deleted ? " (deleted)" : "");
	snprintf(link, sizeof(link), "/proc/%d/fd/%d", c->pid, f->fd);
	if (sscanf(f->target, "socket:[%lu]", &ino) == 1)
		check_socket(c, f->fd, ino, what);
	else if (has_prefix(f->target, "anon_inode:"))
		check_anon(c, f->target + strlen("anon_inode:"), what);
	else if (f->target[0] != '/')
		return;		/* pipe:[], pidfd:[], namespace files */
	else if (stat(link, &st))
		return;		/* closed meanwhile */
	else if (S_ISCHR(st.st_mode))
		check_chrdev_fd(c, f->target, st.st_rdev, what);
	else if (S_ISBLK(st.st_mode))
		add(c, CHECK_BLOCKER, NULL, what, "block device: CRIU cannot dump it");
	else if (S_ISREG(st.st_mode)) {
		check_regular(c, what, link, f->target, f->deleted, 0);
		check_locks(c, f->fd, what);
	}
}

/* --------------------------------------------------------------- mappings */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Look for the shim and a dynamic loader among the mapped files. */
static int scan_maps(struct ctx *c, const struct proc_map *m, int n)
{
	int i, shim = 0;

	for (i = 0; i < n; i++) {
		const char *b = base_name(m[i].path);

		if (m[i].path[0] != '/')
			continue;
		if (has_prefix(b, "libcrshim.so"))
			shim = 1;
		if (has_prefix(b, "ld-linux") || has_prefix(b, "ld-musl") || has_prefix(b, "ld.so") ||
		    has_prefix(b, "ld64.so"))
			c->ldso = 1;
	}
	return shim;
}

static void check_sysv_map(struct ctx *c, const struct proc_map *m, const char *what)
{
	char key[80];

	snprintf(key, sizeof(key), "sysv:%" PRIu64, m->ino);
	if (ns_differs(c->cur.ipc, c->self.ipc))
		add(c, CHECK_OK, key, what, "SysV shared memory: CRIU dumps it with the IPC namespace");
	else if (c->shim)
		add(c, CHECK_HANDLED, key, what, "SysV shared memory: crshim takes the segment over");
	else
		add(c, CHECK_BLOCKER, key, what,
		    "SysV shared memory attached outside an IPC namespace: CRIU refuses it");
}

/* A mapping of something that is not a regular file (proc_parse.c handle_vma). */
static void check_special_map(struct ctx *c, const char *what, const char *path, const struct stat *st)
{
	char key[80];

	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 5))	/* /dev/zero */
		return;
	snprintf(key, sizeof(key), "dev:%" PRIx64, (uint64_t)st->st_rdev);
	if (is_uverbs(path))
		check_verbs(c, what, key, 1);
	else
		add(c, CHECK_BLOCKER, key, what,
		    "mapping CRIU cannot handle: non-regular mapping of a device (device memory, "
		    "e.g. a doorbell page or GPU memory)");
}

static void check_map(struct ctx *c, const struct proc_map *m)
{
	char what[CHECK_WHAT_MAX], link[96], name[4096];
	struct stat st;

	if (!m->path[0] || m->path[0] == '[' || has_prefix(m->path, "socket:"))
		return;		/* anonymous, [heap] [stack] [vdso]..., packet rings */
	snprintf(what, sizeof(what), "map %lx-%lx %.260s%s", (unsigned long)m->start,
		 (unsigned long)m->end, m->path, m->deleted ? " (deleted)" : "");
	if (has_prefix(m->path, "anon_inode:")) {
		add(c, CHECK_BLOCKER, m->path, what,
		    "mapping CRIU cannot handle: memory of an anon inode file (%s)",
		    m->path + strlen("anon_inode:"));
		return;
	}
	if (has_prefix(m->path, "/SYSV")) {
		check_sysv_map(c, m, what);
		return;
	}
	if (has_prefix(m->path, "/dev/zero") || has_prefix(m->path, "/[aio]") ||
	    has_prefix(m->path, "/anon_hugepage"))
		return;		/* shared anonymous memory, AIO rings, MAP_HUGETLB memory */
	if (has_prefix(m->path, "/secretmem")) {
		add(c, CHECK_BLOCKER, "secretmem", what,
		    "memfd_secret memory: no other process, CRIU included, can read it");
		return;
	}
	snprintf(link, sizeof(link), "/proc/%d/map_files/%lx-%lx", c->pid,
		 (unsigned long)m->start, (unsigned long)m->end);
	strip_deleted(m->path, name, sizeof(name));
	/* map_files needs privileges; a linked path is a fine fallback */
	if (stat(link, &st) && (m->deleted || stat(name, &st)))
		return;
	if (!S_ISREG(st.st_mode))
		check_special_map(c, what, name, &st);
	else
		check_regular(c, what, link, m->path, m->deleted, m->perms[3] == 's' ? 2 : 1);
}

/* ---------------------------------------------------------------- process */

/* 1 when the executable has a PT_INTERP, 0 when not, -1 if unreadable. */
static int exe_has_interp(pid_t pid)
{
	char path[64];
	GElf_Phdr ph;
	size_t n, i;
	int fd, ret = -1;
	Elf *e;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && elf_kind(e) == ELF_K_ELF && elf_getphdrnum(e, &n) == 0) {
		ret = 0;
		for (i = 0; i < n; i++)
			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_INTERP)
				ret = 1;
	}
	elf_end(e);
	close(fd);
	return ret;
}

static void check_exe(struct ctx *c)
{
	/* `ld.so ./prog` has an exe without PT_INTERP: the mapped loader tells */
	if (c->ldso || exe_has_interp(c->pid) != 0)
		return;
	add(c, CHECK_WARN, NULL, "exe",
	    "statically linked: LD_PRELOAD cannot work, crshim cannot record anything for it "
	    "(CRIU itself can dump it)");
}

static void check_shim(struct ctx *c, int mapped, int root)
{
	char err[256];
	json_t *ans = NULL;

	c->shim = 0;
	if (!mapped) {
		if (root)
			add(c, CHECK_OK, NULL, "shim",
			    "libcrshim.so is not loaded: judged for CRIU alone");
		return;
	}
	if (ctl_request(c->pid, "PING", 1000, &ans, err, sizeof(err)) == CTL_OK) {
		json_decref(ans);
		c->shim = 1;
		add(c, CHECK_OK, NULL, "shim", "libcrshim.so is loaded and answers");
		return;
	}
	add(c, CHECK_WARN, NULL, "shim",
	    "libcrshim.so is loaded but does not answer (%s): crshim cannot prepare this process, "
	    "judged for CRIU alone", err);
}

static void check_tracer(struct ctx *c, const struct pstatus *ps)
{
	char comm[32];

	if (!ps->tracer)
		return;
	read_comm(ps->tracer, comm, sizeof(comm));
	add(c, CHECK_BLOCKER, NULL, "process",
	    "traced by pid %d (%s): CRIU cannot seize a process that is being traced",
	    ps->tracer, comm);
}

/*
 * CRIU records each task's session and refuses a task whose session leader
 * lives in an outer pid namespace (it reads sid 0 there): typical of a job
 * started by a container runtime or CI runner that did not call setsid().
 */
static void check_session(struct ctx *c, const struct pstatus *ps)
{
	if (ps->inner_sid != 0)
		return;
	add(c, CHECK_BLOCKER, "session", "process",
	    "its session leader is outside its pid namespace: CRIU refuses it; start the job "
	    "in its own session (setsid)");
}

/* CRIU dumps the namespaces in which the root task differs from it. */
static void check_namespaces(struct ctx *c, const struct pstatus *ps)
{
	if (ns_differs(c->cur.pid, c->self.pid)) {
		if (ps->inner_pid != 1)
			add(c, CHECK_BLOCKER, NULL, "pid namespace",
			    "runs in a pid namespace where it is pid %d, not the init: CRIU dumps a "
			    "pid namespace only from its init", ps->inner_pid);
		else
			add(c, CHECK_WARN, NULL, "pid namespace",
			    "init of its own pid namespace: CRIU dumps it as a container, with its "
			    "namespaces and mounts");
	}
	if (ns_differs(c->cur.mnt, c->self.mnt))
		add(c, CHECK_WARN, NULL, "mount namespace",
		    "own mount namespace: CRIU dumps its mounts; mounts from the host need "
		    "--external mnt[...]");
	if (ns_differs(c->cur.net, c->self.net))
		add(c, CHECK_WARN, NULL, "network namespace",
		    "own network namespace: CRIU dumps it; links to the outside (veth) need "
		    "--external veth[...]");
}

static void check_maps_of(struct ctx *c, int root)
{
	struct proc_map *maps = NULL;
	int i, n, mapped;

	n = proc_read_maps(c->pid, &maps);
	if (n < 0) {
		add(c, CHECK_WARN, NULL, "maps", "could not read /proc/%d/maps: %s", c->pid,
		    strerror(errno));
		check_shim(c, 0, root);
		return;
	}
	mapped = scan_maps(c, maps, n);
	check_shim(c, mapped, root);
	if (root) {
		c->rep->shim_loaded = mapped;
		c->rep->shim_answers = c->shim;
	}
	for (i = 0; i < n; i++)
		check_map(c, &maps[i]);
	free(maps);
}

static void check_fds_of(struct ctx *c)
{
	struct proc_fd *fds = NULL;
	int i, n;

	sktab_load(&c->sk, c->pid, c->cur.net);
	n = proc_read_fds(c->pid, &fds);
	if (n < 0) {
		add(c, CHECK_WARN, NULL, "fds", "could not read /proc/%d/fd: %s", c->pid,
		    strerror(errno));
		return;
	}
	for (i = 0; i < n; i++)
		check_fd(c, &fds[i]);
	free(fds);
}

static void check_one(struct ctx *c, pid_t pid, int root)
{
	struct pstatus ps;

	c->pid = pid;
	c->nseen = 0;
	c->ldso = 0;
	if (read_status(pid, &ps))
		return;		/* exited meanwhile */
	if (!root && (ps.state == 'Z' || ps.state == 'X'))
		return;		/* CRIU dumps zombies of the tree as they are */
	read_ns(pid, &c->cur);
	check_tracer(c, &ps);
	check_session(c, &ps);
	if (root)
		check_namespaces(c, &ps);
	check_maps_of(c, root);
	check_exe(c);
	check_fds_of(c);
}

/* ------------------------------------------------------------- unix peers */

static int in_tree(const struct ctx *c, uint64_t ino)
{
	int i;

	for (i = 0; i < c->nsocks; i++)
		if (c->socks[i] == ino)
			return 1;
	return 0;
}

/* Which process holds socket ino: scan every /proc/PID/fd (slow, rare). */
static pid_t find_holder(uint64_t ino)
{
	char want[48], path[600], target[64];
	struct dirent *p, *f;
	pid_t found = 0;
	DIR *proc, *fds;
	ssize_t n;

	snprintf(want, sizeof(want), "socket:[%" PRIu64 "]", ino);
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while (!found && (p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!found && (f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, f->d_name);
			n = readlink(path, target, sizeof(target) - 1);
			if (n > 0 && (target[n] = '\0', !strcmp(target, want)))
				found = atoi(p->d_name);
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

static void describe_peer(const struct ctx *c, uint64_t peer, pid_t holder, char *out, size_t len)
{
	const struct sk *s = sktab_find(&c->sk, peer);
	char comm[32];
	int n = 0;

	if (holder) {
		read_comm(holder, comm, sizeof(comm));
		n = snprintf(out, len, "pid %d (%s)", holder, comm);
	} else {
		n = snprintf(out, len, "a process");
	}
	if (s && s->addr[0] && n > 0 && (size_t)n < len)
		snprintf(out + n, len - (size_t)n, " at %s", s->addr);
}

/* ----------------------------------------------------------- simulated HCA */

/*
 * The simulated HCA (tests/hca/README.md) is what a verbs program using its
 * libibverbs holds instead of /dev/infiniband/uverbs*: a unix stream
 * connection per context to crs-hcad, which listens at the program's
 * $CRS_HCA_SOCKET (default /tmp/crs-hca-UID/hca.sock, UID its real uid),
 * and socket pairs (async events, completion channels) whose other ends
 * crs-hcad holds.  So a peer belongs to the HCA when its holder also holds
 * the socket listening at that path.
 */
static void hca_socket_path(pid_t pid, char *out, size_t len)
{
	static const char var[] = "CRS_HCA_SOCKET=";
	size_t cap = 1u << 20;
	char path[64], *env = malloc(cap);
	struct pstatus ps;
	int n = -1;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	if (env)
		n = read_small(path, env, cap);
	for (int i = 0; i < n; i += (int)strlen(env + i) + 1)
		if (has_prefix(env + i, var) && env[i + sizeof(var) - 1]) {
			snprintf(out, len, "%s", env + i + sizeof(var) - 1);
			free(env);
			return;
		}
	free(env);
	snprintf(out, len, "/tmp/crs-hca-%u/hca.sock", read_status(pid, &ps) ? 0u : (unsigned)ps.uid);
}

/* 1 when pid has an fd on socket ino. */
static int pid_holds(pid_t pid, uint64_t ino)
{
	char want[48], path[320], target[64];
	struct dirent *f;
	int found = 0;
	ssize_t n;
	DIR *fds;

	snprintf(want, sizeof(want), "socket:[%" PRIu64 "]", ino);
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	fds = opendir(path);
	while (fds && !found && (f = readdir(fds))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, f->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		found = n > 0 && (target[n] = '\0', !strcmp(target, want));
	}
	if (fds)
		closedir(fds);
	return found;
}

/* Is holder, the process at the other end of u, the HCA of u->pid? */
static int is_hca(struct ctx *c, const struct upend *u, pid_t holder, char *sock, size_t len)
{
	int i;

	if (!holder || u->type == SOCK_DGRAM)
		return 0;
	hca_socket_path(u->pid, sock, len);
	sktab_load(&c->sk, u->pid, c->self.net);	/* u->pid shares crshim's namespace */
	for (i = 0; i < c->sk.n; i++) {
		const struct sk *s = &c->sk.v[i];

		if (s->kind == SK_UNIX && s->listening && !strcmp(s->addr, sock) &&
		    pid_holds(holder, s->ino))
			return 1;
	}
	return 0;
}

static void check_hca_peer(struct ctx *c, const struct upend *u, const char *what, pid_t holder,
			   const char *sock)
{
	char res[300];

	snprintf(res, sizeof(res), "connection to the simulated HCA (crs-hcad, pid %d, at %.200s)",
		 holder, sock);
	/* one item per process, however many contexts and channels it has */
	report_verbs(c, verbs_held(c, u->pid, u->shim), "hca", what, res,
		     "CRIU cannot dump half of a stream connection");
}

static void check_one_peer(struct ctx *c, const struct upend *u, const struct peer_map *pm)
{
	char what[CHECK_WHAT_MAX], who[200], sock[256];
	pid_t holder;
	uint64_t peer;

	c->pid = u->pid;
	snprintf(what, sizeof(what), "fd %d -> socket:[%" PRIu64 "]", u->fd, u->ino);
	if (u->other_netns || !pm) {
		add(c, CHECK_WARN, NULL, what,
		    "connected unix socket whose peer could not be checked: if the peer is outside "
		    "the dumped tree, CRIU refuses a stream socket");
		return;
	}
	peer = peer_of(pm, u->ino);
	if (!peer || in_tree(c, peer))
		return;
	holder = find_holder(peer);
	if (is_hca(c, u, holder, sock, sizeof(sock))) {
		check_hca_peer(c, u, what, holder, sock);
		return;
	}
	describe_peer(c, peer, holder, who, sizeof(who));
	if (u->type == SOCK_DGRAM)
		add(c, CHECK_WARN, NULL, what,
		    "unix datagram socket connected to %s outside the dumped tree: needs "
		    "--ext-unix-sk", who);
	else
		add(c, CHECK_BLOCKER, NULL, what,
		    "unix %s socket connected to %s outside the dumped tree: CRIU cannot dump "
		    "half of a stream connection", u->type == SOCK_SEQPACKET ? "seqpacket" : "stream",
		    who);
}

/* Connected unix sockets need their peer inside the dumped tree. */
static void check_unix_peers(struct ctx *c)
{
	struct peer_map pm = { 0 };
	int i, ok;

	if (!c->npend)
		return;
	ok = unix_peers(&pm) == 0;
	for (i = 0; i < c->npend; i++) {
		if (!i || c->pend[i].pid != c->pend[i - 1].pid)
			c->nseen = 0;	/* keys count once per process (pend is by process) */
		check_one_peer(c, &c->pend[i], ok ? &pm : NULL);
	}
	free(pm.v);
}

/* ------------------------------------------------------------------- tree */

static int tree_has(const pid_t *v, int n, pid_t pid)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i] == pid)
			return 1;
	return 0;
}

/* Append the children of every thread of pid (what `criu dump -t` takes). */
static int add_children(pid_t pid, pid_t **v, int *n, int *cap)
{
	char path[320], buf[8192], *tok, *save;
	struct dirent *d;
	DIR *tasks;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	tasks = opendir(path);
	if (!tasks)
		return 0;
	while ((d = readdir(tasks))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", pid, d->d_name);
		if (read_small(path, buf, sizeof(buf)) <= 0)
			continue;
		for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			pid_t child = atoi(tok);

			/* crshim itself, when a parent shell is checked, is gone at dump time */
			if (child <= 0 || child == getpid() || tree_has(*v, *n, child) || *n >= MAX_TREE)
				continue;
			if (grow((void **)v, cap, *n, sizeof(**v))) {
				closedir(tasks);
				return -1;
			}
			(*v)[(*n)++] = child;
		}
	}
	closedir(tasks);
	return 0;
}

static int collect_tree(pid_t root, pid_t **v, int *n)
{
	int i, cap = 0;

	*v = NULL;
	*n = 0;
	if (grow((void **)v, &cap, 0, sizeof(**v)))
		return -1;
	(*v)[(*n)++] = root;
	for (i = 0; i < *n; i++)
		if (add_children((*v)[i], v, n, &cap))
			return -1;
	return 0;
}

/* ------------------------------------------------------------------- main */

/* CRIU itself runs as root (or with CAP_CHECKPOINT_RESTORE, --unprivileged). */
static void check_dumper(struct ctx *c)
{
	char buf[4096], *cap;
	unsigned long long eff = 0;

	if (geteuid() == 0)
		return;
	c->pid = 0;
	if (read_small("/proc/self/status", buf, sizeof(buf)) > 0 && (cap = strstr(buf, "CapEff:")))
		eff = strtoull(cap + 7, NULL, 16);
	if (eff & (1ULL << CAP_CHECKPOINT_RESTORE_BIT))
		add(c, CHECK_WARN, NULL, "criu",
		    "not root but CAP_CHECKPOINT_RESTORE: CRIU must run with --unprivileged");
	else
		add(c, CHECK_BLOCKER, NULL, "criu", "CRIU needs root or CAP_CHECKPOINT_RESTORE");
}

/* Is pid something we can check at all?  Sets rep->error when not. */
static int check_target(pid_t pid, struct check_report *rep)
{
	struct pstatus ps;

	if (pid <= 0) {
		snprintf(rep->error, sizeof(rep->error), "%d is not a process id", pid);
		return CHECK_ERR_NOPROC;
	}
	if (read_status(pid, &ps)) {
		snprintf(rep->error, sizeof(rep->error), "no process %d", pid);
		return CHECK_ERR_NOPROC;
	}
	if (ps.state == 'Z' || ps.state == 'X') {
		snprintf(rep->error, sizeof(rep->error),
			 "process %d has exited (zombie): nothing left to dump", pid);
		return CHECK_ERR_ZOMBIE;
	}
	/* "Kthread:" is recent; before it, a kernel thread is a live task without an mm.
	 * (Not "a child of pid 2": inside a pid namespace pid 2 is an ordinary process.) */
	if (ps.kthread || !ps.has_vm) {
		snprintf(rep->error, sizeof(rep->error),
			 "%d is a kernel thread: CRIU dumps only user processes", pid);
		return CHECK_ERR_NOPROC;
	}
	if (geteuid() != 0 && ps.uid != geteuid()) {
		snprintf(rep->error, sizeof(rep->error),
			 "process %d belongs to uid %u: only root can check another user's process",
			 pid, (unsigned)ps.uid);
		return CHECK_ERR_PERM;
	}
	return 0;
}

/* Blockers first, then warnings, handled, ok; stable inside a severity. */
static void sort_items(struct check_report *rep)
{
	struct check_item tmp;
	int i, j;

	for (i = 1; i < rep->nitems; i++) {
		tmp = rep->items[i];
		for (j = i; j > 0 && rep->items[j - 1].severity < tmp.severity; j--)
			rep->items[j] = rep->items[j - 1];
		rep->items[j] = tmp;
	}
}

static void ctx_free(struct ctx *c)
{
	free(c->sk.v);
	free(c->seen);
	free(c->socks);
	free(c->pend);
}

int check_process(pid_t pid, struct check_report *rep)
{
	struct ctx c = { .rep = rep };
	pid_t *tree = NULL;
	int i, n, ret;

	memset(rep, 0, sizeof(*rep));
	rep->pid = pid;
	ret = check_target(pid, rep);
	if (ret)
		return ret;
	read_comm(pid, rep->comm, sizeof(rep->comm));
	read_ns(0, &c.self);
	if (collect_tree(pid, &tree, &n)) {
		free(tree);
		snprintf(rep->error, sizeof(rep->error), "out of memory");
		return CHECK_ERR_SYS;
	}
	rep->nprocs = n;
	check_dumper(&c);
	for (i = 0; i < n; i++)
		check_one(&c, tree[i], i == 0);
	check_unix_peers(&c);
	sort_items(rep);
	free(tree);
	ctx_free(&c);
	if (c.oom) {
		snprintf(rep->error, sizeof(rep->error), "out of memory");
		return CHECK_ERR_SYS;
	}
	return 0;
}
