/*
 * CRSHIM_* environment variables.  Pure functions over strings so the unit
 * tests can feed every malformed value; no malloc (runs before main).
 */
#include "registry.h"
#include "shim.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct crs_config crs_cfg;

static void warnf(crs_config_warn_fn warn, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warnf(crs_config_warn_fn warn, void *ctx, const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	if (!warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line, whatever bytes the value holds. */
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	warn(ctx, msg);
}

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

int crs_config_parse_log_level(const char *s, int *out)
{
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = CRS_LOG_WARN;
		return 0;
	}
	return -1;
}

static const struct {
	const char *name;
	unsigned bit;
} hook_names[] = {
	{ "mmap", CRS_HOOK_MMAP }, { "file", CRS_HOOK_FILE }, { "shm", CRS_HOOK_SHM },
	{ "sysv", CRS_HOOK_SYSV }, { "verbs", CRS_HOOK_VERBS },
};

/* "all", "none", or a comma-separated list of family names. */
int crs_config_parse_hooks(const char *s, unsigned *out)
{
	unsigned mask = 0;
	const char *p = s;

	if (strcmp(s, "all") == 0) {
		*out = CRS_HOOK_ALL;
		return 0;
	}
	if (strcmp(s, "none") == 0) {
		*out = 0;
		return 0;
	}
	while (*p) {
		size_t n = strcspn(p, ",");
		unsigned bit = 0;

		for (size_t i = 0; i < sizeof(hook_names) / sizeof(hook_names[0]); i++)
			if (strlen(hook_names[i].name) == n && strncmp(p, hook_names[i].name, n) == 0)
				bit = hook_names[i].bit;
		if (!bit)
			return -1;
		mask |= bit;
		p += n;
		if (*p == ',' && *++p == 0)
			return -1; /* trailing comma */
	}
	if (!mask)
		return -1;
	*out = mask;
	return 0;
}

static int policy_from_word(const char *w, size_t n)
{
	if (n == 4 && strncmp(w, "drop", 4) == 0)
		return CRS_SCRATCH_DROP;
	if (n == 4 && strncmp(w, "keep", 4) == 0)
		return CRS_SCRATCH_KEEP;
	if (n == 4 && strncmp(w, "save", 4) == 0)
		return CRS_SCRATCH_SAVE;
	return 0;
}

/* What an ignored entry leaves: the variable's default for that directory. */
#define SCRATCH_DEFAULT "using the default (not scratch) for it"

static int add_dir(const char *p, size_t n, int policy, struct crs_scratch_dir *dirs, int max,
		   int *count, crs_config_warn_fn warn, void *ctx)
{
	char entry[600];

	snprintf(entry, sizeof(entry), "%.*s", (int)(n < 512 ? n : 512), p);
	if (n == 0 || p[0] != '/') {
		warnf(warn, ctx, "CRSHIM_SCRATCH: ignoring '%s': not an absolute directory; " SCRATCH_DEFAULT,
		      entry);
		return -1;
	}
	if (n >= sizeof(dirs[0].path)) {
		warnf(warn, ctx, "CRSHIM_SCRATCH: ignoring '%s': path too long; " SCRATCH_DEFAULT, entry);
		return -1;
	}
	if (*count >= max) {
		warnf(warn, ctx, "CRSHIM_SCRATCH: ignoring '%s': more than %d directories; " SCRATCH_DEFAULT,
		      entry, max);
		return -1;
	}
	while (n > 1 && p[n - 1] == '/')
		n--; /* "/tmp/scratch/" == "/tmp/scratch" */
	memcpy(dirs[*count].path, p, n);
	dirs[*count].path[n] = 0;
	dirs[*count].len = n;
	dirs[*count].policy = policy;
	(*count)++;
	return 0;
}

/*
 * Entries are separated by ','; each is DIR or DIR:POLICY (drop, keep,
 * save; a bare directory means drop).  For compatibility a colon-separated
 * list of absolute directories (/a:/b) is also accepted.  Bad entries are
 * warned about and skipped; returns the number of bad entries.
 */
int crs_config_parse_scratch(const char *s, struct crs_scratch_dir *dirs, int max, int *n,
			     crs_config_warn_fn warn, void *ctx)
{
	int bad = 0;
	const char *p = s;

	*n = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *colon = memrchr(p, ':', len);

		if (len == 0) {
			p++;
			continue;
		}
		if (colon && colon[1] != '/') {
			size_t wl = len - (size_t)(colon + 1 - p);
			int pol = policy_from_word(colon + 1, wl);

			if (!pol) {
				char w[64], d[512];

				snprintf(w, sizeof(w), "%.*s", (int)(wl < 60 ? wl : 60), colon + 1);
				/* 440: the line keeps its end (the default) */
				snprintf(d, sizeof(d), "%.*s", (int)(colon - p < 440 ? colon - p : 440), p);
				warnf(warn, ctx,
				      "CRSHIM_SCRATCH: ignoring '%s': unknown policy '%s' "
				      "(drop, keep or save); " SCRATCH_DEFAULT,
				      d, w);
				bad++;
			} else if (add_dir(p, (size_t)(colon - p), pol, dirs, max, n, warn, ctx) < 0) {
				bad++;
			}
		} else {
			/* DIR or /a:/b:/c, all drop */
			const char *q = p, *end = p + len;

			while (q < end) {
				const char *c = memchr(q, ':', (size_t)(end - q));
				size_t dl = (size_t)((c ? c : end) - q);

				if (dl && add_dir(q, dl, CRS_SCRATCH_DROP, dirs, max, n, warn, ctx) < 0)
					bad++;
				q += dl + (c ? 1 : 0);
			}
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return bad;
}

int crs_config_expand_path(const char *tmpl, pid_t pid, char *out, size_t outlen)
{
	size_t o = 0;

	for (const char *p = tmpl; *p; p++) {
		char num[24];
		const char *ins = num;
		size_t n;

		if (p[0] == '%' && p[1] == 'p') {
			snprintf(num, sizeof(num), "%d", (int)pid);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			num[0] = '%', num[1] = 0;
			p++;
		} else {
			num[0] = *p, num[1] = 0;
		}
		n = strlen(ins);
		if (o + n >= outlen)
			return -1;
		memcpy(out + o, ins, n);
		o += n;
	}
	if (o >= outlen)
		return -1;
	out[o] = 0;
	return 0;
}

void crs_config_default_rundir(uid_t uid, char *out, size_t outlen)
{
	snprintf(out, outlen, "/tmp/crshim-%u", (unsigned)uid);
}

int crs_config_scratch_policy(const struct crs_config *cfg, const char *abs_path)
{
	int best = 0;
	size_t best_len = 0;

	for (int i = 0; i < cfg->nscratch; i++) {
		const struct crs_scratch_dir *d = &cfg->scratch[i];

		if (strncmp(abs_path, d->path, d->len) != 0)
			continue;
		if (abs_path[d->len] != '/' && !(d->len == 1 && d->path[0] == '/'))
			continue;
		if (d->len > best_len) { /* the most specific directory wins */
			best = d->policy;
			best_len = d->len;
		}
	}
	return best;
}

static int parse_bool(const char *s, int *out)
{
	if (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !*s) {
		*out = 0;
		return 0;
	}
	return -1;
}

void crs_config_parse(struct crs_config *cfg, const char *(*getenv_fn)(const char *name),
		      crs_config_warn_fn warn, void *ctx, pid_t pid, uid_t uid)
{
	const char *v;

	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = CRS_LOG_WARN;
	cfg->hooks = CRS_HOOK_ALL;
	crs_config_default_rundir(uid, cfg->rundir, sizeof(cfg->rundir));

	if ((v = getenv_fn("CRSHIM_DISABLE")) && parse_bool(v, &cfg->disabled) < 0) {
		warnf(warn, ctx, "CRSHIM_DISABLE: malformed value '%s'; using the default (0)", v);
		cfg->disabled = 0;
	}
	if ((v = getenv_fn("CRSHIM_LOG")) && crs_config_parse_log_level(v, &cfg->log_level) < 0)
		warnf(warn, ctx,
		      "CRSHIM_LOG: malformed value '%s' (error, warn, info, debug, trace); using the default (warn)",
		      v);
	if ((v = getenv_fn("CRSHIM_LOG_FILE")) && *v &&
	    (crs_config_expand_path(v, pid, cfg->log_file, sizeof(cfg->log_file)) < 0 ||
	     strlen(v) >= sizeof(cfg->log_tmpl))) {
		cfg->log_file[0] = 0;
		warnf(warn, ctx, "CRSHIM_LOG_FILE: value '%.200s' too long; using the default (stderr)", v);
	}
	if (cfg->log_file[0])
		snprintf(cfg->log_tmpl, sizeof(cfg->log_tmpl), "%s", v);
	if ((v = getenv_fn("CRSHIM_BACKTRACE")) && parse_bool(v, &cfg->backtrace) < 0) {
		cfg->backtrace = 0;
		warnf(warn, ctx, "CRSHIM_BACKTRACE: malformed value '%s' (0 or 1); using the default (0)", v);
	}
	if ((v = getenv_fn("CRSHIM_HOOKS")) && crs_config_parse_hooks(v, &cfg->hooks) < 0) {
		cfg->hooks = CRS_HOOK_ALL;
		warnf(warn, ctx,
		      "CRSHIM_HOOKS: malformed value '%s' (all, none, or a list of mmap,file,shm,sysv,verbs); using the default (all)",
		      v);
	}
	if ((v = getenv_fn("CRSHIM_SCRATCH")))
		crs_config_parse_scratch(v, cfg->scratch, CRS_MAX_SCRATCH_DIRS, &cfg->nscratch, warn, ctx);
	if ((v = getenv_fn("CRSHIM_RUNDIR")) && *v) {
		if (v[0] != '/' || strlen(v) + 32 >= sizeof(cfg->rundir))
			warnf(warn, ctx, "CRSHIM_RUNDIR: '%.200s' is not a usable absolute path; using the default (%s)",
			      v, cfg->rundir);
		else
			snprintf(cfg->rundir, sizeof(cfg->rundir), "%s", v);
	}
}
