/*
 * crshim doctor [--json] PROGRAM
 * What crshim can do for PROGRAM, read from its ELF file before anything
 * runs: is it dynamic (LD_PRELOAD works at all), which of its objects (the
 * program and every library it needs, resolved like the dynamic loader)
 * import the functions libcrshim.so intercepts, and what bypasses the hooks
 * (raw `syscall` instructions, imports of syscall(), libc's internal calls).
 * Exit 0: fine, 1: works with warnings, 2: crshim cannot work (static),
 * 3: PROGRAM missing or not an ELF file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* pipe2 */
#endif
#include "commands.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <getopt.h>
#include <jansson.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_OBJS 512
#define MAX_FIRST 4		/* raw syscall sites shown per object */

enum { DOC_OK = 0, DOC_WARN = 1, DOC_STATIC = 2, DOC_BADFILE = 3 };
enum linkage { LINK_DYNAMIC, LINK_STATIC, LINK_STATIC_PIE, LINK_LIBRARY };

/* What libcrshim.so intercepts (plus every ibv_* function). */
static const char *const intercepted[] = {
	"mmap", "mmap64", "munmap", "mremap", "open", "open64", "openat", "openat64",
	"creat", "close", "ftruncate", "unlink", "unlinkat", "remove", "rename",
	"renameat", "renameat2", "shm_open", "shm_unlink", "memfd_create", "shmget",
	"shmat", "shmdt", "shmctl",
};

/* _FORTIFY_SOURCE wrappers: libc calls open inside, past the hook. */
static const char *const fortified[] = { "__open_2", "__open64_2", "__openat_2", "__openat64_2" };

/* Libraries of glibc itself: their internal calls never go through the PLT. */
static const char *const glibc_libs[] = {
	"libc.so", "ld-linux", "libm.so", "libpthread.so", "libdl.so", "librt.so",
	"libresolv.so", "libutil.so", "libanl.so", "libmvec.so", "libBrokenLocale.so",
	"libnsl.so", "libthread_db.so", "libc_malloc_debug.so",
};

struct strv {
	char **v;
	int n, cap;
};

struct rawhit {
	char section[32];
	uint64_t offset, addr;
};

/* The program or one library it needs. */
struct object {
	char name[256];		/* DT_NEEDED string (program: as given) */
	char path[PATH_MAX];	/* the file; "" when not found */
	char needed_by[256];
	int program, glibc, found;
	struct strv needed;
	char rpath[1024], runpath[1024];
	struct strv imports;	/* intercepted functions it imports */
	struct strv fortified;
	int imports_syscall;
	unsigned long nraw;	/* 0f 05 byte pairs in executable sections */
	struct rawhit first[MAX_FIRST];
};

struct doctor {
	char path[PATH_MAX];
	int elfclass, machine, etype, linkage, pie, setid;
	char interp[256];
	struct object *objs;
	int nobjs, capobjs;
	struct strv cache_names, cache_paths;	/* ld.so.cache, from `ldconfig -p` */
	int cache_loaded;
	struct strv warnings, notes;
	char error[PATH_MAX + 512];
};

/* ------------------------------------------------------------ string lists */

static int strv_add(struct strv *s, const char *str)
{
	char **v;

	if (s->n == s->cap) {
		v = realloc(s->v, (size_t)(s->cap ? s->cap * 2 : 8) * sizeof(*v));
		if (!v)
			return -1;
		s->v = v;
		s->cap = s->cap ? s->cap * 2 : 8;
	}
	s->v[s->n] = strdup(str);
	return s->v[s->n] ? (s->n++, 0) : -1;
}

static int strv_has(const struct strv *s, const char *str)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], str))
			return 1;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_sort(struct strv *s)
{
	if (s->n > 1)
		qsort(s->v, (size_t)s->n, sizeof(*s->v), cmp_str);
}

static void strv_free(struct strv *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

__attribute__((format(printf, 2, 3)))
static void warn(struct doctor *d, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	strv_add(&d->warnings, buf);
}

static int in_list(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return 1;
	return 0;
}

static int is_glibc(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(glibc_libs) / sizeof(glibc_libs[0]); i++)
		if (!strncmp(name, glibc_libs[i], strlen(glibc_libs[i])))
			return 1;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void dir_of(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, len, ".");
	else if (slash == path)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - path), path);
}

/* ----------------------------------------------------------------- ELF */

static Elf *elf_open(const char *path, int *fd)
{
	Elf *e;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return NULL;
	e = elf_begin(*fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		elf_end(e);
		close(*fd);
		*fd = -1;
		errno = ENOEXEC;
		return NULL;
	}
	return e;
}

static void elf_close(Elf *e, int fd)
{
	elf_end(e);
	if (fd >= 0)
		close(fd);
}

/* Same class and machine: the loader skips libraries built for another ABI. */
static int elf_matches(const char *path, int elfclass, int machine)
{
	GElf_Ehdr eh;
	int fd, ok = 0;
	Elf *e;

	e = elf_open(path, &fd);
	if (!e)
		return 0;
	ok = gelf_getehdr(e, &eh) && gelf_getclass(e) == elfclass && eh.e_machine == machine;
	elf_close(e, fd);
	return ok;
}

static void read_dyn_entry(Elf *e, const GElf_Shdr *sh, const GElf_Dyn *dyn, struct object *o,
			   GElf_Xword *flags_1)
{
	const char *s;

	switch (dyn->d_tag) {
	case DT_NEEDED:
	case DT_RPATH:
	case DT_RUNPATH:
		s = elf_strptr(e, sh->sh_link, dyn->d_un.d_val);
		if (!s)
			return;
		if (dyn->d_tag == DT_NEEDED)
			strv_add(&o->needed, s);
		else
			snprintf(dyn->d_tag == DT_RPATH ? o->rpath : o->runpath, sizeof(o->rpath), "%s", s);
		break;
	case DT_FLAGS_1:
		*flags_1 = dyn->d_un.d_val;
		break;
	}
}

/* DT_NEEDED, DT_RPATH, DT_RUNPATH; returns DT_FLAGS_1. */
static GElf_Xword read_dynamic(Elf *e, struct object *o)
{
	GElf_Xword flags_1 = 0;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Dyn dyn;
	Elf_Data *data;
	size_t i;

	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (i = 0; data && i < sh.sh_size / sh.sh_entsize; i++)
			if (gelf_getdyn(data, (int)i, &dyn))
				read_dyn_entry(e, &sh, &dyn, o, &flags_1);
	}
	return flags_1;
}

static void note_import(struct object *o, const char *name)
{
	if (in_list(name, intercepted, sizeof(intercepted) / sizeof(intercepted[0])) ||
	    !strncmp(name, "ibv_", 4)) {
		if (!strv_has(&o->imports, name))
			strv_add(&o->imports, name);
	} else if (in_list(name, fortified, sizeof(fortified) / sizeof(fortified[0]))) {
		if (!strv_has(&o->fortified, name))
			strv_add(&o->fortified, name);
	} else if (!strcmp(name, "syscall")) {
		o->imports_syscall = 1;
	}
}

/* Undefined symbols of .dynsym: what the object takes from others. */
static void read_imports(Elf *e, struct object *o)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf_Data *data;
	const char *name;
	size_t i;

	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (i = 1; data && i < sh.sh_size / sh.sh_entsize; i++) {
			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx != SHN_UNDEF)
				continue;
			name = elf_strptr(e, sh.sh_link, sym.st_name);
			if (name && *name)
				note_import(o, name);
		}
	}
}

static void scan_section(struct object *o, const char *secname, const GElf_Shdr *sh, Elf_Data *data)
{
	const unsigned char *b = data->d_buf;
	size_t i;

	/* byte pattern, no disassembly: a 0f 05 inside another instruction counts too */
	for (i = 0; b && i + 1 < data->d_size; i++) {
		if (b[i] != 0x0f || b[i + 1] != 0x05)
			continue;
		if (o->nraw < MAX_FIRST) {
			struct rawhit *h = &o->first[o->nraw];

			snprintf(h->section, sizeof(h->section), "%s", secname);
			h->offset = data->d_off + i;
			h->addr = sh->sh_addr + data->d_off + i;
		}
		o->nraw++;
	}
}

/* Count `syscall` instructions (0f 05) in the executable sections. */
static void scan_syscalls(Elf *e, struct object *o)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	const char *name;
	GElf_Shdr sh;
	size_t shstr;

	if (elf_getshdrstrndx(e, &shstr))
		return;
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(e, shstr, sh.sh_name);
		data = NULL;
		while ((data = elf_getdata(scn, data)))
			scan_section(o, name ? name : "?", &sh, data);
	}
}

/* Everything doctor wants from one object's file. */
static int read_object(struct object *o, GElf_Xword *flags_1)
{
	GElf_Xword f1;
	int fd;
	Elf *e;

	e = elf_open(o->path, &fd);
	if (!e)
		return -1;
	f1 = read_dynamic(e, o);
	if (flags_1)
		*flags_1 = f1;
	if (!o->glibc) {
		read_imports(e, o);
		strv_sort(&o->imports);
		scan_syscalls(e, o);
	}
	elf_close(e, fd);
	return 0;
}

/* ---------------------------------------------------- library resolution */

/* Parse `ldconfig -p`: "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1". */
static void parse_cache_line(struct doctor *d, char *line)
{
	char *name = line + strspn(line, " \t"), *paren, *arrow;

	paren = strstr(name, " (");
	arrow = strstr(name, " => ");
	if (!paren || !arrow || arrow < paren)
		return;
	*paren = '\0';
	arrow[4 + strcspn(arrow + 4, "\n")] = '\0';
	strv_add(&d->cache_names, name);
	strv_add(&d->cache_paths, arrow + 4);
}

/* Run ldconfig -p without a shell and read its list. */
static void load_cache(struct doctor *d)
{
	static const char *const ldconfig[] = { "/sbin/ldconfig", "/usr/sbin/ldconfig" };
	char line[PATH_MAX + 300];
	int p[2], st, null;
	size_t i;
	pid_t pid;
	FILE *f;

	d->cache_loaded = 1;
	for (i = 0; i < 2 && access(ldconfig[i], X_OK); i++)
		;
	if (i == 2 || pipe2(p, O_CLOEXEC))
		return;
	pid = fork();
	if (pid == 0) {
		null = open("/dev/null", O_WRONLY);
		dup2(p[1], 1);
		dup2(null, 2);
		execl(ldconfig[i], ldconfig[i], "-p", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	f = pid > 0 ? fdopen(p[0], "r") : NULL;
	while (f && fgets(line, sizeof(line), f))
		parse_cache_line(d, line);
	if (f)
		fclose(f);
	else
		close(p[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
}

/* dir/name if it is a library of the program's ABI (an empty dir is the cwd). */
static int try_dir(struct doctor *d, const char *dir, const char *name, char *out)
{
	if (snprintf(out, PATH_MAX, "%s/%s", *dir ? dir : ".", name) >= PATH_MAX)
		return 0;
	return elf_matches(out, d->elfclass, d->machine);
}

/* Search a colon-separated path list, expanding $ORIGIN to origin. */
static int try_list(struct doctor *d, const char *list, const char *origin, const char *name,
		    char *out)
{
	char dir[PATH_MAX];
	const char *p = list;
	size_t len;

	while (p && *p) {
		len = strcspn(p, ":");
		snprintf(dir, sizeof(dir), "%.*s", (int)len, p);
		if (!strncmp(dir, "$ORIGIN", 7) || !strncmp(dir, "${ORIGIN}", 9)) {
			const char *rest = dir + (dir[1] == '{' ? 9 : 7);
			char tmp[PATH_MAX];

			snprintf(tmp, sizeof(tmp), "%s%s", origin, rest);
			snprintf(dir, sizeof(dir), "%s", tmp);
		}
		if (try_dir(d, dir, name, out))
			return 1;
		p += len + (p[len] == ':');
	}
	return 0;
}

static int try_cache(struct doctor *d, const char *name, char *out)
{
	int i;

	if (!d->cache_loaded)
		load_cache(d);
	for (i = 0; i < d->cache_names.n; i++)
		if (!strcmp(d->cache_names.v[i], name) &&
		    elf_matches(d->cache_paths.v[i], d->elfclass, d->machine)) {
			snprintf(out, PATH_MAX, "%s", d->cache_paths.v[i]);
			return 1;
		}
	return 0;
}

/*
 * Find name as the dynamic loader would for needer: DT_RPATH (of the
 * needer, then of the program, when no DT_RUNPATH), LD_LIBRARY_PATH (not
 * for set-id programs), DT_RUNPATH, /etc/ld.so.cache, default directories.
 * Only $ORIGIN is expanded ($LIB and $PLATFORM are rare).
 */
static int resolve(struct doctor *d, const struct object *needer, const char *name, char *out)
{
	static const char defaults[] = "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib:/usr/lib";
	const struct object *prog = &d->objs[0];
	const char *env = getenv("LD_LIBRARY_PATH");
	char origin[PATH_MAX];

	if (strchr(name, '/')) {
		snprintf(out, PATH_MAX, "%s", name);
		return elf_matches(out, d->elfclass, d->machine);
	}
	dir_of(needer->path, origin, sizeof(origin));
	if (!needer->runpath[0] && try_list(d, needer->rpath, origin, name, out))
		return 1;
	if (needer != prog && !prog->runpath[0] && try_list(d, prog->rpath, origin, name, out))
		return 1;
	if (!d->setid && try_list(d, env, origin, name, out))
		return 1;
	if (try_list(d, needer->runpath, origin, name, out))
		return 1;
	return try_cache(d, name, out) || try_list(d, defaults, origin, name, out);
}

/* --------------------------------------------------------------- objects */

static struct object *add_object(struct doctor *d, const char *name, const char *needed_by)
{
	struct object *o;

	if (d->nobjs == d->capobjs) {
		o = realloc(d->objs, (size_t)(d->capobjs ? d->capobjs * 2 : 16) * sizeof(*o));
		if (!o)
			return NULL;
		d->objs = o;
		d->capobjs = d->capobjs ? d->capobjs * 2 : 16;
	}
	o = &d->objs[d->nobjs++];
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", name);
	snprintf(o->needed_by, sizeof(o->needed_by), "%.255s", needed_by);
	o->glibc = is_glibc(name);
	return o;
}

static int known_object(const struct doctor *d, const char *name)
{
	int i;

	for (i = 0; i < d->nobjs; i++)
		if (!strcmp(d->objs[i].name, name))
			return 1;
	return 0;
}

/* Load the DT_NEEDED of objs[i] that are not known yet. */
static void load_needed(struct doctor *d, int i)
{
	char path[PATH_MAX], from[256];
	struct object *o;
	int k;

	snprintf(from, sizeof(from), "%.255s", d->objs[i].program ? base_name(d->objs[i].path)
							      : d->objs[i].name);
	for (k = 0; k < d->objs[i].needed.n && d->nobjs < MAX_OBJS; k++) {
		const char *name = d->objs[i].needed.v[k];

		if (known_object(d, name))
			continue;
		if (!resolve(d, &d->objs[i], name, path))
			path[0] = '\0';
		o = add_object(d, name, from);	/* may move d->objs */
		if (!o)
			return;
		snprintf(o->path, sizeof(o->path), "%s", path);
		o->found = path[0] && read_object(o, NULL) == 0;
		if (!o->found)
			warn(d, "%s (needed by %s) not found: it cannot be checked, and the program "
				"will not start as it is", name, from);
	}
}

/* Breadth-first over DT_NEEDED, as the loader orders its search scope. */
static void load_libraries(struct doctor *d)
{
	int i;

	for (i = 0; i < d->nobjs; i++)
		if (d->objs[i].found)
			load_needed(d, i);
}

/* ---------------------------------------------------------------- program */

/* PROGRAM as execvp would find it. */
static int find_program(const char *arg, char *out)
{
	const char *p = getenv("PATH");
	char cand[PATH_MAX];
	struct stat st;
	size_t len;

	if (strchr(arg, '/')) {
		snprintf(out, PATH_MAX, "%s", arg);
		return 0;
	}
	for (; p && *p; p += len + (p[len] == ':')) {
		len = strcspn(p, ":");
		snprintf(cand, sizeof(cand), "%.*s/%s", (int)len, len ? p : ".", arg);
		if (!stat(cand, &st) && S_ISREG(st.st_mode) && !access(cand, X_OK)) {
			snprintf(out, PATH_MAX, "%s", cand);
			return 0;
		}
	}
	return -1;
}

/* Missing, a directory, a script, not ELF: one sentence in d->error. */
static int check_file(struct doctor *d, const char *arg)
{
	char head[256] = "";
	struct stat st;
	ssize_t n;
	int fd;

	if (find_program(arg, d->path) || stat(d->path, &st)) {
		snprintf(d->error, sizeof(d->error), "%s: no such file", arg);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(d->error, sizeof(d->error), "%s: not a regular file", d->path);
		return -1;
	}
	fd = open(d->path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, head, sizeof(head) - 1);
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		snprintf(d->error, sizeof(d->error), "%s: %s", d->path, strerror(errno));
		return -1;
	}
	head[n > 0 ? n : 0] = '\0';
	if (!strncmp(head, "#!", 2)) {
		head[2 + strcspn(head + 2, "\n")] = '\0';
		snprintf(d->error, sizeof(d->error), "%s is a script (%s): run crshim doctor on its "
			 "interpreter", d->path, head);
		return -1;
	}
	if (n < 4 || memcmp(head, ELFMAG, SELFMAG)) {
		snprintf(d->error, sizeof(d->error), "%s: not an ELF file", d->path);
		return -1;
	}
	d->setid = !!(st.st_mode & (S_ISUID | S_ISGID));
	return 0;
}

/* The PT_INTERP string: the dynamic loader the kernel starts for it. */
static void read_interp(struct doctor *d, Elf *e, int fd, size_t nphdr)
{
	GElf_Phdr ph;
	ssize_t got;
	size_t i, len;

	for (i = 0; i < nphdr; i++) {
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_INTERP)
			continue;
		len = ph.p_filesz < sizeof(d->interp) ? ph.p_filesz : sizeof(d->interp) - 1;
		got = pread(fd, d->interp, len, (off_t)ph.p_offset);
		d->interp[got > 0 ? got : 0] = '\0';
		if (!d->interp[0])
			snprintf(d->interp, sizeof(d->interp), "?");
		return;
	}
}

/* Class, machine, type and interpreter of the program. */
static int read_header(struct doctor *d)
{
	const char *what = NULL;
	GElf_Ehdr eh;
	size_t n;
	int fd;
	Elf *e;

	e = elf_open(d->path, &fd);
	if (!e || !gelf_getehdr(e, &eh) || elf_getphdrnum(e, &n)) {
		snprintf(d->error, sizeof(d->error), "%s: not a valid ELF file", d->path);
		if (e)
			elf_close(e, fd);
		return -1;
	}
	d->elfclass = gelf_getclass(e);
	d->machine = eh.e_machine;
	d->etype = eh.e_type;
	if (d->etype == ET_REL)
		what = "an ELF object file";
	else if (d->etype != ET_EXEC && d->etype != ET_DYN)
		what = d->etype == ET_CORE ? "an ELF core dump" : "an ELF file of unknown type";
	if (what)
		snprintf(d->error, sizeof(d->error), "%s: %s, not a program", d->path, what);
	else
		read_interp(d, e, fd, n);
	elf_close(e, fd);
	return what ? -1 : 0;
}

static int host_machine(void)
{
#if defined(__x86_64__)
	return EM_X86_64;
#elif defined(__aarch64__)
	return EM_AARCH64;
#elif defined(__i386__)
	return EM_386;
#else
	return -1;
#endif
}

static const char *machine_name(int m)
{
	switch (m) {
	case EM_X86_64:
		return "x86-64";
	case EM_386:
		return "i386";
	case EM_AARCH64:
		return "aarch64";
	case EM_PPC64:
		return "ppc64";
	case EM_RISCV:
		return "riscv";
	}
	return "another machine";
}

/* Things that stop LD_PRELOAD before any object is looked at. */
static void check_loading(struct doctor *d)
{
	char cap[64];

	if (d->setid)
		warn(d, "set-user-ID or set-group-ID: the loader runs it in secure mode and ignores "
			"LD_PRELOAD of libcrshim.so outside the system directories");
	else if (getxattr(d->path, "security.capability", cap, sizeof(cap)) > 0)
		warn(d, "has file capabilities: the loader runs it in secure mode and ignores "
			"LD_PRELOAD of libcrshim.so outside the system directories");
	if (host_machine() >= 0 && d->machine != host_machine())
		warn(d, "built for %s, not for this machine", machine_name(d->machine));
}

/* Raw syscalls, syscall() and fortified opens: what the hooks never see. */
static void check_bypass(struct doctor *d, const struct object *o)
{
	const char *name = o->program ? base_name(o->path) : o->name;
	char first[256] = "";
	unsigned long i;
	size_t len = 0;

	for (i = 0; i < o->nraw && i < MAX_FIRST && len < sizeof(first); i++)
		len += (size_t)snprintf(first + len, sizeof(first) - len, "%s%s+0x%llx", i ? ", " : "",
					o->first[i].section, (unsigned long long)o->first[i].offset);
	if (o->nraw)
		warn(d, "%s: %lu raw syscall instruction%s (bytes 0f 05 at %s%s; a byte scan, some "
			"may be parts of other instructions): these system calls bypass the hooks",
		     name, o->nraw, o->nraw > 1 ? "s" : "", first, o->nraw > MAX_FIRST ? ", ..." : "");
	if (o->imports_syscall)
		warn(d, "%s imports syscall(): system calls made through it bypass the hooks", name);
	for (i = 0; i < (unsigned long)o->fortified.n; i++)
		warn(d, "%s imports %s: the _FORTIFY_SOURCE wrapper opens the file inside libc, "
			"past the hook", name, o->fortified.v[i]);
}

static void add_notes(struct doctor *d)
{
	int i, any = 0;

	for (i = 0; i < d->nobjs; i++)
		any |= d->objs[i].imports.n > 0;
	strv_add(&d->notes, "calls libc makes internally (fopen, malloc arenas, dlopen, ...) "
			    "bypass the PLT: crshim still sees the mappings they create through "
			    "/proc/PID/maps, but without intent");
	strv_add(&d->notes, "libraries loaded later with dlopen (MPI components, verbs "
			    "providers, plugins) are not listed here; the hooks reach them too");
	if (!any)
		strv_add(&d->notes, "no object imports an intercepted function: crshim will know "
				    "only what /proc shows");
	if (d->linkage == LINK_LIBRARY)
		strv_add(&d->notes, "this is a shared library: the hooks apply to it once a "
				    "dynamic program loads it");
}

static int analyse(struct doctor *d, const char *arg)
{
	GElf_Xword flags_1 = 0;
	struct object *prog;
	int i;

	elf_version(EV_CURRENT);
	if (check_file(d, arg) || read_header(d))
		return DOC_BADFILE;
	prog = add_object(d, arg, "");
	if (!prog)
		return DOC_BADFILE;
	prog->program = 1;
	prog->found = 1;
	if (!realpath(d->path, prog->path))
		snprintf(prog->path, sizeof(prog->path), "%s", d->path);
	read_object(prog, &flags_1);
	d->pie = d->etype == ET_DYN && (flags_1 & DF_1_PIE);
	if (d->interp[0])
		d->linkage = LINK_DYNAMIC;
	else if (d->pie)
		d->linkage = LINK_STATIC_PIE;
	else if (d->etype == ET_EXEC)
		d->linkage = LINK_STATIC;
	else
		d->linkage = LINK_LIBRARY;
	if (d->linkage == LINK_STATIC || d->linkage == LINK_STATIC_PIE)
		return DOC_STATIC;
	check_loading(d);
	load_libraries(d);
	for (i = 0; i < d->nobjs; i++)
		if (d->objs[i].found && !d->objs[i].glibc)
			check_bypass(d, &d->objs[i]);
	add_notes(d);
	return d->warnings.n ? DOC_WARN : DOC_OK;
}

/* ----------------------------------------------------------------- human */

static const char *linkage_text(const struct doctor *d)
{
	switch (d->linkage) {
	case LINK_DYNAMIC:
		return "dynamically linked";
	case LINK_STATIC:
		return "statically linked";
	case LINK_STATIC_PIE:
		return "statically linked (static-pie)";
	}
	return "not a program";
}

static const char *type_text(const struct doctor *d)
{
	if (d->linkage == LINK_LIBRARY)
		return "shared library";
	return d->etype == ET_DYN ? "PIE executable" : "executable";
}

/* "close mmap open + 12 ibv_* functions" */
static void imports_text(const struct object *o, char *out, size_t len)
{
	size_t n = 0;
	int i, ibv = 0;

	out[0] = '\0';
	for (i = 0; i < o->imports.n && n < len; i++) {
		if (!strncmp(o->imports.v[i], "ibv_", 4))
			ibv++;
		else
			n += (size_t)snprintf(out + n, len - n, "%s%s", n ? " " : "", o->imports.v[i]);
	}
	if (ibv && n < len)
		snprintf(out + n, len - n, "%s%d ibv_* function%s", n ? " + " : "", ibv,
			 ibv > 1 ? "s" : "");
}

static void print_objects(const struct doctor *d)
{
	char buf[2048];
	int i, libs = 0, glibc = 0, missing = 0;

	for (i = 1; i < d->nobjs; i++) {
		libs++;
		glibc += d->objs[i].glibc;
		missing += !d->objs[i].found;
	}
	printf("  objects: the %s and %d librar%s it needs (%d of glibc, %d not found)\n",
	       d->linkage == LINK_LIBRARY ? "library" : "program", libs, libs == 1 ? "y" : "ies",
	       glibc, missing);
	printf("  intercepted functions imported (the calls libcrshim.so sees):\n");
	for (i = 0; i < d->nobjs; i++) {
		const struct object *o = &d->objs[i];

		if (!o->found)
			continue;
		if (o->glibc) {
			printf("    %-28s (glibc: its internal calls bypass the hooks)\n", o->name);
			continue;
		}
		imports_text(o, buf, sizeof(buf));
		printf("    %-28s %s\n", o->program ? base_name(o->path) : o->name,
		       buf[0] ? buf : "-");
	}
}

static void print_human(const struct doctor *d, int verdict)
{
	int i;

	printf("crshim doctor: %s\n", d->nobjs ? d->objs[0].path : d->path);
	printf("  ELF %d-bit %s %s", d->elfclass == ELFCLASS64 ? 64 : 32, machine_name(d->machine),
	       type_text(d));
	if (d->linkage != LINK_LIBRARY)
		printf(", %s", linkage_text(d));
	if (d->interp[0])
		printf(" (interpreter %s)", d->interp);
	printf("\n");
	if (verdict == DOC_STATIC) {
		printf("  LD_PRELOAD cannot work; crshim cannot record anything for it\n");
		printf("  verdict: crshim cannot work (exit 2)\n");
		return;
	}
	print_objects(d);
	for (i = 0; i < d->notes.n; i++)
		printf("  note: %s\n", d->notes.v[i]);
	for (i = 0; i < d->warnings.n; i++)
		printf("  warning: %s\n", d->warnings.v[i]);
	if (verdict == DOC_WARN)
		printf("  verdict: crshim can work, with %d warning%s (exit 1)\n", d->warnings.n,
		       d->warnings.n > 1 ? "s" : "");
	else
		printf("  verdict: crshim can work (exit 0)\n");
}

/* ------------------------------------------------------------------ json */

static json_t *strv_json(const struct strv *s)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < s->n; i++)
		json_array_append_new(a, json_string(s->v[i]));
	return a;
}

static json_t *raw_json(const struct object *o)
{
	json_t *first = json_array();
	unsigned long i;

	for (i = 0; i < o->nraw && i < MAX_FIRST; i++)
		json_array_append_new(first, json_pack("{s:s, s:I, s:I}", "section", o->first[i].section,
						       "offset", (json_int_t)o->first[i].offset,
						       "address", (json_int_t)o->first[i].addr));
	return json_pack("{s:I, s:o}", "count", (json_int_t)o->nraw, "first", first);
}

static json_t *object_json(const struct object *o)
{
	return json_pack("{s:s, s:s?, s:s, s:s, s:b, s:b, s:o, s:o, s:o, s:b, s:o}", "name", o->name,
			 "path", o->path[0] ? o->path : NULL, "role", o->program ? "program" : "library",
			 "needed_by", o->needed_by, "glibc", o->glibc, "found", o->found, "needed",
			 strv_json(&o->needed), "imports", strv_json(&o->imports), "fortified",
			 strv_json(&o->fortified), "imports_syscall", o->imports_syscall,
			 "raw_syscalls", raw_json(o));
}

static const char *linkage_key(int linkage)
{
	static const char *const keys[] = { "dynamic", "static", "static-pie", "shared-library" };

	return keys[linkage];
}

static json_t *doctor_json(const struct doctor *d, const char *arg, int verdict)
{
	static const char *const verdicts[] = { "ok", "warnings", "cannot-work", "bad-file" };
	json_t *objs;
	int i;

	if (verdict == DOC_BADFILE)
		return json_pack("{s:s, s:s, s:s, s:i}", "program", arg, "error", d->error, "verdict",
				 verdicts[verdict], "exit", verdict);
	objs = json_array();
	for (i = 0; i < d->nobjs; i++)
		json_array_append_new(objs, object_json(&d->objs[i]));
	return json_pack("{s:s, s:s, s:{s:i, s:s, s:s, s:b}, s:s?, s:o, s:o, s:o, s:s, s:i}",
			 "program", arg, "path", d->path, "elf", "class",
			 d->elfclass == ELFCLASS64 ? 64 : 32, "machine", machine_name(d->machine),
			 "linkage", linkage_key(d->linkage), "pie", d->pie, "interpreter",
			 d->interp[0] ? d->interp : NULL, "objects", objs, "notes",
			 strv_json(&d->notes), "warnings", strv_json(&d->warnings), "verdict",
			 verdicts[verdict], "exit", verdict);
}

/* ------------------------------------------------------------------ main */

static void doctor_free(struct doctor *d)
{
	int i;

	for (i = 0; i < d->nobjs; i++) {
		strv_free(&d->objs[i].needed);
		strv_free(&d->objs[i].imports);
		strv_free(&d->objs[i].fortified);
	}
	free(d->objs);
	strv_free(&d->cache_names);
	strv_free(&d->cache_paths);
	strv_free(&d->warnings);
	strv_free(&d->notes);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: crshim doctor [--json] PROGRAM\n"
		   "  What crshim can do for PROGRAM, from its ELF file (nothing is run).\n"
		   "  Exit 0: fine, 1: warnings, 2: crshim cannot work (static),\n"
		   "  3: PROGRAM missing or not an ELF file.\n");
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct doctor *d;
	int c, json = 0, verdict;

	while ((c = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c != 'j') {
			usage(stderr);
			return DOC_BADFILE;
		}
		json = 1;
	}
	if (optind != argc - 1) {
		usage(stderr);
		return DOC_BADFILE;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return DOC_BADFILE;
	verdict = analyse(d, argv[optind]);
	if (json) {
		json_t *j = doctor_json(d, argv[optind], verdict);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else if (verdict == DOC_BADFILE) {
		fprintf(stderr, "crshim doctor: %s\n", d->error);
	} else {
		print_human(d, verdict);
	}
	doctor_free(d);
	free(d);
	return verdict;
}
