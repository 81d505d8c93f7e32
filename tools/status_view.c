/*
 * The /proc cross-check of a process record, and its human form.
 * /proc is the ground truth; the record adds intent and original names.
 */
#include "status_view.h"

#include "proc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
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
	json_t *unmaps = json_array(), *unfds = json_array(), *o, *m;
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
	json_object_set_new(rec, "proc", json_pack("{s:s,s:o,s:o}", "exe", exe, "unrecorded_mappings", unmaps,
						   "unrecorded_fds", unfds));
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
	if (flag(o, "append"))
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

static void print_object(FILE *f, json_t *o, json_t *maps)
{
	char sz[32], fdlist[128] = "";
	json_t *fdl = json_object_get(o, "fds"), *v;
	size_t i;
	dev_t dev = (dev_t)num(o, "dev");
	json_t *bt = json_object_get(o, "backtrace");

	human_size((uint64_t)num(o, "size"), sz, sizeof(sz));
	json_array_foreach(fdl, i, v) {
		size_t l = strlen(fdlist);

		snprintf(fdlist + l, sizeof(fdlist) - l, "%s%lld", l ? "," : "", (long long)json_integer_value(v));
	}
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
