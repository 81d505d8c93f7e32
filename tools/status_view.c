/*
 * The /proc cross-check of a process record, and its human form.
 * /proc is the ground truth; the record adds intent and original names.
 */
#include "status_view.h"

#include "output_rule.h"
#include "proc.h"
#include "scratch.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static uintptr_t hexval(json_t *v)
{
	const char *s = json_string_value(v);

	return s ? (uintptr_t)strtoull(s, NULL, 16) : 0;
}

/* Is [start, end) covered by /proc mappings of the same inode?  (mprotect
 * may split one recorded mapping into several /proc lines.) */
static int covered(const struct proc_map *m, int n, uintptr_t start, uintptr_t end, uint64_t ino)
{
	uintptr_t at = start;

	for (int i = 0; i < n && at < end; i++) {
		if (m[i].end <= at || m[i].start > at)
			continue;
		if (ino && m[i].ino != ino)
			return 0; /* something else is mapped there now */
		at = m[i].end;
	}
	return at >= end;
}

static json_t *object_by_id(json_t *objects, json_int_t id);

static int recorded_range(json_t *maps, uintptr_t start, uintptr_t end)
{
	size_t i;
	json_t *m;

	json_array_foreach(maps, i, m) {
		uintptr_t s = hexval(json_object_get(m, "start")), e = hexval(json_object_get(m, "end"));

		if (s < end && e > start)
			return 1;
	}
	return 0;
}

static json_t *object_by_id(json_t *objects, json_int_t id)
{
	size_t i;
	json_t *o;

	json_array_foreach(objects, i, o)
		if (json_integer_value(json_object_get(o, "id")) == id)
			return o;
	return NULL;
}

static json_t *by_inode(json_t *list, uint64_t dev, uint64_t ino)
{
	size_t i;
	json_t *o;

	json_array_foreach(list, i, o)
		if ((uint64_t)json_integer_value(json_object_get(o, "dev")) == dev &&
		    (uint64_t)json_integer_value(json_object_get(o, "ino")) == ino)
			return o;
	return NULL;
}

/* One entry per file of list (found only through /proc), with every fd. */
static json_t *add_unseen(json_t *list, const struct proc_fd *f)
{
	json_t *e = by_inode(list, f->dev, f->ino);

	if (!e) {
		e = json_pack("{s:s,s:I,s:I,s:I,s:i,s:b,s:[],s:b}", "path", f->target, "dev", (json_int_t)f->dev, "ino",
			      (json_int_t)f->ino, "size", (json_int_t)f->size, "mode", (int)(f->mode & 07777),
			      "append", 0, "fds", "seen_by_shim", 0);
		json_array_append_new(list, e);
	}
	if (f->flags & O_APPEND)
		json_object_set_new(e, "append", json_true());
	json_array_append_new(json_object_get(e, "fds"), json_integer(f->fd));
	return e;
}

/*
 * Named regular files /proc shows open that `crshim dump` would treat as
 * scratch (under a scratch directory or mark, open for writing) or as an
 * output (output_rule.h), whatever the shim saw: fopen, the shell's
 * redirections and files opened before the shim are not seen by the hooks.
 * A recorded object that is an output gets "output": true; the others go to
 * scratch[] and outputs[].  (Deleted files are in unrecorded_fds.)
 */
static void classify_files(json_t *rec, const struct proc_fd *fds, int nfds, json_t *scratch, json_t *outputs)
{
	json_t *objects = json_object_get(rec, "objects");

	for (int k = 0; k < nfds; k++) {
		const struct proc_fd *f = &fds[k];
		json_t *o = by_inode(objects, f->dev, f->ino);
		const char *policy;

		if (!S_ISREG(f->mode) || f->target[0] != '/' || f->deleted)
			continue;
		if (o) {
			/* Scratch files and pools are never outputs (cmd_dump.c). */
			if (!json_object_get(o, "scratch") && !json_is_true(json_object_get(o, "unlinked")) &&
			    !json_is_true(json_object_get(o, "shared_map")) && output_fd_is_output(f))
				json_object_set_new(o, "output", json_true());
			continue;
		}
		policy = (f->flags & O_ACCMODE) != O_RDONLY ? scratch_policy_by_path(rec, f->target) : NULL;
		if (policy)
			json_object_set_new(add_unseen(scratch, f), "scratch", json_string(policy));
		else if (output_fd_is_output(f))
			add_unseen(outputs, f);
	}
}

static int fd_matches(const struct proc_fd *fds, int nfds, int fd, json_t *obj)
{
	uint64_t ino = (uint64_t)json_integer_value(json_object_get(obj, "ino"));

	for (int i = 0; i < nfds; i++)
		if (fds[i].fd == fd)
			return fds[i].ino == ino;
	return 0;
}

void status_crosscheck(pid_t pid, json_t *rec)
{
	struct proc_map *maps = NULL;
	struct proc_fd *fds = NULL;
	int nmaps = proc_read_maps(pid, &maps), nfds = proc_read_fds(pid, &fds);
	json_t *objects = json_object_get(rec, "objects"), *rmaps = json_object_get(rec, "mappings");
	json_t *unmaps = json_array(), *unfds = json_array(), *unscr = json_array(), *unout = json_array(), *o, *m;
	size_t i;
	char exe[4096], link[64];
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = 0;

	json_array_foreach(rmaps, i, m) {
		uintptr_t s = hexval(json_object_get(m, "start")), e = hexval(json_object_get(m, "end"));
		json_t *obj = object_by_id(objects, json_integer_value(json_object_get(m, "object")));
		uint64_t ino = (uint64_t)json_integer_value(json_object_get(obj, "ino"));

		json_object_set_new(m, "verified", json_boolean(nmaps > 0 && covered(maps, nmaps, s, e, ino)));
	}
	json_array_foreach(objects, i, o) {
		json_t *fdl = json_object_get(o, "fds"), *f;
		size_t k;
		int ok = 1, any = 0;

		json_array_foreach(fdl, k, f) {
			any = 1;
			ok &= fd_matches(fds, nfds, (int)json_integer_value(f), o);
		}
		json_object_set_new(o, "verified", any ? json_boolean(ok) : json_null());
	}
	/* Shared or deleted-file mappings the shim never saw. */
	for (int k = 0; k < nmaps; k++) {
		int shared = maps[k].perms[3] == 's';

		if (!shared && !maps[k].deleted)
			continue;
		if (recorded_range(rmaps, maps[k].start, maps[k].end))
			continue;
		char sb[32], eb[32];

		snprintf(sb, sizeof(sb), "0x%" PRIxPTR, maps[k].start);
		snprintf(eb, sizeof(eb), "0x%" PRIxPTR, maps[k].end);
		json_array_append_new(unmaps,
			json_pack("{s:s,s:s,s:I,s:s,s:s,s:I,s:b,s:b}", "start", sb, "end", eb,
				  "offset", (json_int_t)maps[k].offset, "prot", maps[k].perms,
				  "path", maps[k].path, "ino", (json_int_t)maps[k].ino,
				  "deleted", maps[k].deleted, "seen_by_shim", 0));
	}
	/* Open deleted files (and memfds) the shim does not know about. */
	for (int k = 0; k < nfds; k++) {
		int known = 0;

		if (!fds[k].deleted)
			continue;
		json_array_foreach(objects, i, o) {
			json_t *fdl = json_object_get(o, "fds"), *f;
			size_t j;

			json_array_foreach(fdl, j, f)
				if (json_integer_value(f) == fds[k].fd)
					known = 1;
		}
		if (!known)
			json_array_append_new(unfds, json_pack("{s:i,s:s,s:I,s:I,s:b}", "fd", fds[k].fd, "path",
							       fds[k].target, "size", (json_int_t)fds[k].size,
							       "ino", (json_int_t)fds[k].ino, "seen_by_shim", 0));
	}
	classify_files(rec, fds, nfds, unscr, unout);
	json_object_set_new(rec, "proc",
			    json_pack("{s:s,s:o,s:o,s:o,s:o}", "exe", exe, "unrecorded_mappings", unmaps, "unrecorded_fds",
				      unfds, "unrecorded_scratch", unscr, "unrecorded_outputs", unout));
	free(maps);
	free(fds);
}

static void human_size(uint64_t n, char *out, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%" PRIu64 " B", n);
	else
		snprintf(out, len, "%.1f %s", v, unit[u]);
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static json_int_t num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static int flag(json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

/* Which heading an object is listed under. */
static const char *section_of(json_t *o)
{
	const char *kind = str(o, "kind");

	if (json_object_get(o, "scratch"))
		return "scratch files";
	if (!strcmp(kind, "posix_shm"))
		return "posix shm";
	if (!strcmp(kind, "memfd"))
		return "memfds";
	if (!strcmp(kind, "sysv"))
		return "sysv segments";
	if (!strcmp(kind, "anon_shared"))
		return "shared anonymous";
	if (flag(o, "unlinked") || flag(o, "shared_map"))
		return "pools";
	if (flag(o, "append") || flag(o, "output"))
		return "outputs";
	return "files";
}

static int count_maps(json_t *maps, json_int_t id)
{
	size_t i;
	json_t *m;
	int n = 0;

	json_array_foreach(maps, i, m)
		n += num(m, "object") == id;
	return n;
}

static void fd_list(json_t *fdl, char *out, size_t len)
{
	size_t i;
	json_t *v;

	out[0] = 0;
	json_array_foreach(fdl, i, v) {
		size_t l = strlen(out);

		snprintf(out + l, len - l, "%s%lld", l ? "," : "", (long long)json_integer_value(v));
	}
}

static void print_object(FILE *f, json_t *o, json_t *maps)
{
	char sz[32], fdlist[128];
	json_t *v;
	size_t i;
	dev_t dev = (dev_t)num(o, "dev");
	json_t *bt = json_object_get(o, "backtrace");

	human_size((uint64_t)num(o, "size"), sz, sizeof(sz));
	fd_list(json_object_get(o, "fds"), fdlist, sizeof(fdlist));
	if (!strcmp(str(o, "kind"), "sysv"))
		fprintf(f, "    key 0x%08llx id %lld  %s  mode %04llo%s  attached %d\n",
			(unsigned long long)(uint32_t)num(o, "sysv_key"), (long long)num(o, "sysv_id"), sz,
			(unsigned long long)(num(o, "mode") & 07777), flag(o, "sysv_rmid") ? "  IPC_RMID set" : "",
			count_maps(maps, num(o, "id")));
	else
		fprintf(f, "    %s%s  %s  dev %u:%u ino %lld  mode %04llo%s%s%s  fds [%s]  maps %d%s\n",
			str(o, "path")[0] ? str(o, "path") : "(anonymous)", flag(o, "unlinked") ? " (unlinked)" : "",
			sz, major(dev), minor(dev), (long long)num(o, "ino"),
			(unsigned long long)(num(o, "mode") & 07777),
			json_object_get(o, "scratch") ? "  policy " : "", str(o, "scratch"),
			flag(o, "append") ? "  append" : "", fdlist, count_maps(maps, num(o, "id")),
			json_is_false(json_object_get(o, "verified")) ? "  [NOT in /proc]" : "");
	json_array_foreach(bt, i, v)
		fprintf(f, "        at %s\n", json_string_value(v));
}

/* A scratch file or output found only through /proc. */
static void print_unseen(FILE *f, json_t *e)
{
	char sz[32], fdlist[128];
	dev_t dev = (dev_t)num(e, "dev");

	human_size((uint64_t)num(e, "size"), sz, sizeof(sz));
	fd_list(json_object_get(e, "fds"), fdlist, sizeof(fdlist));
	fprintf(f, "    %s  %s  dev %u:%u ino %lld  mode %04llo%s%s%s  fds [%s]  [not seen by the shim]\n",
		str(e, "path"), sz, major(dev), minor(dev), (long long)num(e, "ino"),
		(unsigned long long)(num(e, "mode") & 07777), json_object_get(e, "scratch") ? "  policy " : "",
		str(e, "scratch"), flag(e, "append") ? "  append" : "", fdlist);
}

/* What /proc adds to a section. */
static json_t *unseen_of(json_t *proc, const char *section)
{
	if (!strcmp(section, "scratch files"))
		return json_object_get(proc, "unrecorded_scratch");
	if (!strcmp(section, "outputs"))
		return json_object_get(proc, "unrecorded_outputs");
	return NULL;
}

void status_print(FILE *f, json_t *rec)
{
	static const char *const sections[] = { "pools", "posix shm", "memfds", "sysv segments",
						"shared anonymous", "scratch files", "outputs", "files" };
	json_t *objects = json_object_get(rec, "objects"), *maps = json_object_get(rec, "mappings");
	json_t *proc = json_object_get(rec, "proc"), *reg = json_object_get(rec, "registry"), *v;
	size_t i;

	fprintf(f, "pid %lld  %s  shim %s  phase %s\n", (long long)num(rec, "pid"), str(proc, "exe"),
		str(rec, "shim_version"), str(rec, "phase"));
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		int header = 0;

		json_array_foreach(objects, i, v) {
			if (strcmp(section_of(v), sections[s]))
				continue;
			if (!header++)
				fprintf(f, "  %s:\n", sections[s]);
			print_object(f, v, maps);
		}
		json_array_foreach(unseen_of(proc, sections[s]), i, v) {
			if (!header++)
				fprintf(f, "  %s:\n", sections[s]);
			print_unseen(f, v);
		}
	}
	if (json_array_size(maps)) {
		fprintf(f, "  shared mappings:\n");
		json_array_foreach(maps, i, v) {
			json_t *o = object_by_id(objects, num(v, "object"));

			fprintf(f, "    %s-%s %s off %lld  %s%s\n", str(v, "start"), str(v, "end"), str(v, "prot"),
				(long long)num(v, "offset"), o && str(o, "path")[0] ? str(o, "path") : "(anonymous)",
				flag(v, "verified") ? "" : "  [NOT in /proc]");
		}
	}
	if (json_array_size(json_object_get(proc, "unrecorded_mappings")) ||
	    json_array_size(json_object_get(proc, "unrecorded_fds"))) {
		fprintf(f, "  not seen by the shim (from /proc; made by libc internally or before the shim):\n");
		json_array_foreach(json_object_get(proc, "unrecorded_mappings"), i, v)
			fprintf(f, "    %s-%s %s %s%s\n", str(v, "start"), str(v, "end"), str(v, "prot"),
				str(v, "path"), flag(v, "deleted") ? " (deleted)" : "");
		json_array_foreach(json_object_get(proc, "unrecorded_fds"), i, v)
			fprintf(f, "    fd %lld %s\n", (long long)num(v, "fd"), str(v, "path"));
	}
	fprintf(f, "  registry: %lld objects, %lld mappings, %lld fds, %lld dropped\n",
		(long long)num(reg, "objects"), (long long)num(reg, "mappings"), (long long)num(reg, "fds"),
		(long long)num(reg, "dropped"));
}
