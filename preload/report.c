/*
 * The process record: what the registry holds, as the JSON document the
 * control endpoint answers to STATUS and PREPARE (format in
 * include/crshim_manifest.h, "crshim-process" version 1).
 */
#include "jsonw.h"
#include "registry.h"
#include "shim.h"

#include "crshim_manifest.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *kind_name(int kind)
{
	switch (kind) {
	case CRS_OBJ_FILE: return "file";
	case CRS_OBJ_POSIX_SHM: return "posix_shm";
	case CRS_OBJ_MEMFD: return "memfd";
	case CRS_OBJ_SYSV: return "sysv";
	case CRS_OBJ_ANON_SHARED: return "anon_shared";
	}
	return "unknown";
}

const char *crs_policy_name(int policy)
{
	switch (policy) {
	case CRS_SCRATCH_DROP: return "drop";
	case CRS_SCRATCH_KEEP: return "keep";
	case CRS_SCRATCH_SAVE: return "save";
	}
	return "none";
}

static void write_config(struct crs_jsonw *w)
{
	static const char *const fam[] = { "mmap", "file", "shm", "sysv", "verbs" };

	crs_jsonw_key(w, "config");
	crs_jsonw_obj_begin(w);
	crs_jsonw_key(w, "hooks");
	crs_jsonw_arr_begin(w);
	for (int i = 0; i < 5; i++)
		if (crs_cfg.hooks & (1u << i))
			crs_jsonw_str(w, fam[i]);
	crs_jsonw_arr_end(w);
	crs_jsonw_kv_bool(w, "backtrace", crs_cfg.backtrace);
	crs_jsonw_key(w, "scratch");
	crs_jsonw_arr_begin(w);
	for (int i = 0; i < crs_cfg.nscratch; i++) {
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_str(w, "dir", crs_cfg.scratch[i].path);
		crs_jsonw_kv_str(w, "policy", crs_policy_name(crs_cfg.scratch[i].policy));
		crs_jsonw_obj_end(w);
	}
	crs_jsonw_arr_end(w);
	crs_api_marks_report(w);
	crs_jsonw_kv_str(w, "rundir", crs_cfg.rundir);
	crs_jsonw_obj_end(w);
}

static int same_file(const struct crs_object *o, const struct stat *st)
{
	return (uint64_t)st->st_dev == o->dev && (uint64_t)st->st_ino == o->ino;
}

/*
 * The size now: the hooks learn it at open and ftruncate only, and a file
 * grown by write, pwrite or fallocate would show its old size.  Asked with
 * raw system calls of one of its fds (still the same inode: a close inside
 * libc is not seen), else of its name while it has one; otherwise the
 * largest size seen.
 */
static uint64_t current_size(const struct crs_reg_snapshot *s, const struct crs_object *o, uint32_t id)
{
	struct stat st;

	if (o->kind != CRS_OBJ_FILE && o->kind != CRS_OBJ_POSIX_SHM && o->kind != CRS_OBJ_MEMFD)
		return o->size;
	for (uint32_t i = 0; i < s->nfd_pairs; i++)
		if ((uint32_t)s->fd_obj[2 * i + 1] == id && syscall(SYS_fstat, s->fd_obj[2 * i], &st) == 0 &&
		    same_file(o, &st))
			return (uint64_t)st.st_size;
	if (!(o->flags & CRS_OF_UNLINKED) && o->path[0] == '/' &&
	    syscall(SYS_newfstatat, AT_FDCWD, o->path, &st, AT_SYMLINK_NOFOLLOW) == 0 && same_file(o, &st))
		return (uint64_t)st.st_size;
	return o->size;
}

static void write_object(struct crs_jsonw *w, const struct crs_reg_snapshot *s, uint32_t k)
{
	const struct crs_object *o = &s->objects[k];
	uint32_t id = s->object_index[k];

	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_uint(w, "id", id);
	crs_jsonw_kv_str(w, "kind", kind_name(o->kind));
	crs_jsonw_kv_str(w, "path", o->path);
	crs_jsonw_kv_uint(w, "dev", o->dev);
	crs_jsonw_kv_uint(w, "ino", o->ino);
	crs_jsonw_kv_uint(w, "size", current_size(s, o, id));
	crs_jsonw_kv_uint(w, "mode", o->mode);
	crs_jsonw_kv_bool(w, "unlinked", !!(o->flags & CRS_OF_UNLINKED));
	crs_jsonw_kv_bool(w, "shared_map", !!(o->flags & CRS_OF_SHARED_MAP));
	crs_jsonw_kv_bool(w, "write", !!(o->flags & CRS_OF_WRITE));
	crs_jsonw_kv_bool(w, "append", !!(o->flags & CRS_OF_APPEND));
	if (o->flags & CRS_OF_SCRATCH)
		crs_jsonw_kv_str(w, "scratch", crs_policy_name(o->scratch_policy));
	if (o->kind == CRS_OBJ_SYSV) {
		crs_jsonw_kv_int(w, "sysv_key", o->sysv_key);
		crs_jsonw_kv_int(w, "sysv_id", o->sysv_id);
		crs_jsonw_kv_bool(w, "sysv_rmid", !!(o->flags & CRS_OF_SYSV_RMID));
	}
	crs_jsonw_key(w, "fds");
	crs_jsonw_arr_begin(w);
	for (uint32_t i = 0; i < s->nfd_pairs; i++)
		if ((uint32_t)s->fd_obj[2 * i + 1] == id)
			crs_jsonw_int(w, s->fd_obj[2 * i]);
	crs_jsonw_arr_end(w);
	if (o->nbt) {
		crs_jsonw_key(w, "backtrace");
		crs_jsonw_arr_begin(w);
		for (int i = 0; i < o->nbt; i++) {
			char frame[512];

			crs_backtrace_describe(o->bt[i], frame, sizeof(frame));
			crs_jsonw_str(w, frame);
		}
		crs_jsonw_arr_end(w);
	}
	crs_jsonw_obj_end(w);
}

static void prot_string(int prot, int flags, char out[5])
{
	out[0] = (prot & PROT_READ) ? 'r' : '-';
	out[1] = (prot & PROT_WRITE) ? 'w' : '-';
	out[2] = (prot & PROT_EXEC) ? 'x' : '-';
	out[3] = ((flags & MAP_TYPE) == MAP_PRIVATE) ? 'p' : 's';
	out[4] = 0;
}

static void write_mapping(struct crs_jsonw *w, const struct crs_mapping *m)
{
	char prot[5];

	prot_string(m->prot, m->flags, prot);
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_hex(w, "start", m->start);
	crs_jsonw_kv_hex(w, "end", m->start + m->len);
	crs_jsonw_kv_uint(w, "offset", m->offset);
	crs_jsonw_kv_str(w, "prot", prot);
	crs_jsonw_kv_uint(w, "object", m->obj);
	crs_jsonw_obj_end(w);
}

static void write_stats(struct crs_jsonw *w, const struct crs_reg_stats *st)
{
	crs_jsonw_key(w, "registry");
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_uint(w, "objects", st->objects);
	crs_jsonw_kv_uint(w, "mappings", st->mappings);
	crs_jsonw_kv_uint(w, "fds", st->fds);
	crs_jsonw_kv_uint(w, "dropped", st->dropped_objects + st->dropped_mappings + st->dropped_fds);
	crs_jsonw_kv_uint(w, "dropped_objects", st->dropped_objects);
	crs_jsonw_kv_uint(w, "dropped_mappings", st->dropped_mappings);
	crs_jsonw_kv_uint(w, "dropped_fds", st->dropped_fds);
	crs_jsonw_kv_uint(w, "arena_bytes", st->arena_bytes);
	crs_jsonw_kv_uint(w, "bytes_per_mapping", sizeof(struct crs_mapping));
	crs_jsonw_kv_uint(w, "bytes_per_object", sizeof(struct crs_object));
	crs_jsonw_obj_end(w);
}

/* Snapshot storage is reserved once, outside the registry lock. */
static void *snap_buf;
static size_t snap_len;

int crs_report_write(struct crs_jsonw *w)
{
	struct crs_reg_snapshot s;
	size_t need = crs_reg_snapshot_size();

	if (!snap_buf || snap_len < need) {
		void *p = (void *)syscall(SYS_mmap, NULL, need, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED)
			return -1;
		snap_buf = p;
		snap_len = need;
	}
	if (crs_reg_snapshot(snap_buf, snap_len, &s) < 0)
		return -1;
	crs_jsonw_kv_str(w, "format", CRSHIM_PROCESS_FORMAT);
	crs_jsonw_kv_int(w, "version", CRSHIM_PROCESS_VERSION);
	crs_jsonw_kv_int(w, "pid", getpid());
	crs_jsonw_kv_int(w, "ppid", getppid());
	crs_jsonw_kv_int(w, "uid", getuid());
	crs_jsonw_kv_str(w, "shim_version", CRSHIM_VERSION_STRING);
	write_config(w);
	crs_jsonw_key(w, "objects");
	crs_jsonw_arr_begin(w);
	for (uint32_t k = 0; k < s.nobjects; k++)
		write_object(w, &s, k);
	crs_jsonw_arr_end(w);
	crs_jsonw_key(w, "mappings");
	crs_jsonw_arr_begin(w);
	for (uint32_t i = 0; i < s.nmappings; i++)
		write_mapping(w, &s.mappings[i]);
	crs_jsonw_arr_end(w);
	crs_verbs_report(w);
	write_stats(w, &s.stats);
	return 0;
}
