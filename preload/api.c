/*
 * The entry points behind include/crshim.h (looked up by name with dlsym,
 * so programs need not link against the shim).
 */
#include "api_int.h"
#include "jsonw.h"
#include "registry.h"
#include "shim.h"

#include "crshim.h"
#include "crshim_manifest.h"

#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <string.h>
#include <unistd.h>

#define MAX_MARKS 64

struct mark {
	char path[512];
	size_t len;
	int policy;
};

static struct mark marks[MAX_MARKS];
static int nmarks;
static pthread_mutex_t marks_lock = PTHREAD_MUTEX_INITIALIZER;

/* Files restored empty by a drop policy (told by crshim after a restore). */
static char dropped[MAX_MARKS][512];
static int ndropped;

/*
 * Drop-policy scratch files as they were at the last PREPARE.  A restore
 * hands the program a new, empty file: its fd then leads to another inode.
 * That tells the program at once, before crshim's DROPPED notice arrives.
 */
struct drop_ident {
	char path[512];
	dev_t dev;
	ino_t ino;
	int fd;
};

static struct drop_ident drops[MAX_MARKS];
static int ndrops;

CRS_EXPORT int crshim_impl_available(void)
{
	char criu[PATH_MAX];
	int g, found;

	if (!crs_active(CRS_HOOK_ALL))
		return 0;
	g = crs_guard_enter();
	found = crs_find_criu(criu, sizeof(criu)) == 0;
	if (g)
		crs_guard_leave();
	return CRSHIM_AVAILABLE_SHIM | (found ? CRSHIM_AVAILABLE_CRIU : 0);
}

struct policy_arg {
	const char *path;
	size_t len;
	int policy;
};

static void mark_one(struct crs_object *o, void *p)
{
	const struct policy_arg *a = p;

	if (strncmp(o->path, a->path, a->len) == 0 && (o->path[a->len] == 0 || o->path[a->len] == '/')) {
		o->flags |= CRS_OF_SCRATCH;
		o->scratch_policy = (uint8_t)a->policy;
	}
}

CRS_EXPORT int crshim_impl_mark_scratch(const char *path, int policy)
{
	struct policy_arg a;
	size_t len;

	if (!path || path[0] != '/' || policy < CRS_SCRATCH_DROP || policy > CRS_SCRATCH_SAVE) {
		errno = EINVAL;
		return -1;
	}
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len >= sizeof(marks[0].path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	pthread_mutex_lock(&marks_lock);
	if (nmarks == MAX_MARKS) {
		pthread_mutex_unlock(&marks_lock);
		errno = ENOSPC;
		return -1;
	}
	memcpy(marks[nmarks].path, path, len);
	marks[nmarks].path[len] = 0;
	marks[nmarks].len = len;
	marks[nmarks].policy = policy;
	nmarks++;
	pthread_mutex_unlock(&marks_lock);
	/* Files already open under it. */
	a.path = path;
	a.len = len;
	a.policy = policy;
	for (uint32_t i = 0; i < CRS_MAX_OBJECTS; i++)
		crs_reg_object_update(i, mark_one, &a);
	return 0;
}

int crs_api_marked_policy(const char *abs_path)
{
	int best = 0;
	size_t best_len = 0;

	pthread_mutex_lock(&marks_lock);
	for (int i = 0; i < nmarks; i++) {
		const struct mark *m = &marks[i];

		if (strncmp(abs_path, m->path, m->len) == 0 &&
		    (abs_path[m->len] == 0 || abs_path[m->len] == '/') && m->len >= best_len) {
			best = m->policy;
			best_len = m->len;
		}
	}
	pthread_mutex_unlock(&marks_lock);
	return best;
}

void crs_api_note_dropped(const char *path)
{
	pthread_mutex_lock(&marks_lock);
	if (ndropped < MAX_MARKS && strlen(path) < sizeof(dropped[0]))
		strcpy(dropped[ndropped++], path);
	pthread_mutex_unlock(&marks_lock);
}

static void collect_drop(struct crs_object *o, void *p)
{
	struct drop_ident *d;

	(void)p;
	if (!(o->flags & CRS_OF_SCRATCH) || o->scratch_policy != CRS_SCRATCH_DROP || ndrops >= MAX_MARKS ||
	    strlen(o->path) >= sizeof(drops[0].path))
		return;
	d = &drops[ndrops++];
	strcpy(d->path, o->path);
	d->dev = (dev_t)o->dev;
	d->ino = (ino_t)o->ino;
	d->fd = -1;
}

void crs_api_prepare(void)
{
	struct crs_reg_stats st;

	/* The program's own preparation comes first (it may close files). */
	crs_api_checkpoint_begin();
	crs_discard_prune();
	pthread_mutex_lock(&marks_lock);
	ndrops = 0;
	crs_reg_get_stats(&st);
	for (uint32_t i = 0; i < CRS_MAX_OBJECTS; i++)
		crs_reg_object_update(i, collect_drop, NULL);
	/* An fd for each: the identity check survives the name going away. */
	for (int fd = 0; fd < CRS_MAX_FDS && st.fds; fd++) {
		uint32_t obj = crs_reg_fd_get(fd);
		struct stat fs;

		/* A raw fstat, as everything the control thread does to the
		 * program's fds: the program may close or reuse the number at
		 * any time, the identity check below sorts that out. */
		if (obj == CRS_NO_OBJECT || syscall(SYS_fstat, fd, &fs) < 0)
			continue;
		for (int k = 0; k < ndrops; k++)
			if (drops[k].fd < 0 && drops[k].ino == fs.st_ino && drops[k].dev == fs.st_dev)
				drops[k].fd = fd;
	}
	crs_debug("prepare: %d drop-policy scratch file%s", ndrops, ndrops == 1 ? "" : "s");
	pthread_mutex_unlock(&marks_lock);
}

CRS_EXPORT int crshim_impl_scratch_dropped(const char *path)
{
	int r = 0;

	if (!path) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&marks_lock);
	for (int i = 0; i < ndropped && !r; i++)
		r = strcmp(dropped[i], path) == 0;
	for (int i = 0; i < ndrops && !r; i++) {
		struct stat st;
		char v[8];
		ssize_t n;

		if (strcmp(drops[i].path, path))
			continue;
		/* crshim restore marks the empty file it puts in place. */
		n = drops[i].fd >= 0 ? fgetxattr(drops[i].fd, CRSHIM_DROPPED_XATTR, v, sizeof(v))
				     : getxattr(path, CRSHIM_DROPPED_XATTR, v, sizeof(v));
		if (n > 0) {
			r = 1;
		} else if (errno == ENOTSUP &&
			   (drops[i].fd >= 0 ? fstat(drops[i].fd, &st) : stat(path, &st)) == 0) {
			/* No xattrs here: a different inode is the next best sign. */
			r = st.st_ino != drops[i].ino || st.st_dev != drops[i].dev;
		}
	}
	pthread_mutex_unlock(&marks_lock);
	return r;
}

const char *crs_policy_name(int policy);

/* "marks": the paths the program marked, in the record's config. */
void crs_api_marks_report(struct crs_jsonw *w)
{
	crs_jsonw_key(w, "marks");
	crs_jsonw_arr_begin(w);
	pthread_mutex_lock(&marks_lock);
	for (int i = 0; i < nmarks; i++) {
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_str(w, "path", marks[i].path);
		crs_jsonw_kv_str(w, "policy", crs_policy_name(marks[i].policy));
		crs_jsonw_obj_end(w);
	}
	pthread_mutex_unlock(&marks_lock);
	crs_jsonw_arr_end(w);
}
