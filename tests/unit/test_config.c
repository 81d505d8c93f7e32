/*
 * Unit tests of the CRSHIM_* configuration parser (preload/config.c), fed
 * through a fake getenv table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "registry.h"
#include "shim.h"

/* ------------------------------------------------------------------ */
/* fake environment and warning sink                                  */
/* ------------------------------------------------------------------ */

#define MAX_ENV 16
#define MAX_WARN 32

static struct {
	const char *name, *value;
} env[MAX_ENV];
static int nenv;

static char warnings[MAX_WARN][700];
static int nwarn;

static void env_reset(void)
{
	nenv = 0;
	nwarn = 0;
	memset(warnings, 0, sizeof(warnings));
}

static void env_set(const char *name, const char *value)
{
	for (int i = 0; i < nenv; i++) {
		if (strcmp(env[i].name, name) == 0) {
			env[i].value = value;
			return;
		}
	}
	assert_true(nenv < MAX_ENV);
	env[nenv].name = name;
	env[nenv].value = value;
	nenv++;
}

static const char *fake_getenv(const char *name)
{
	for (int i = 0; i < nenv; i++)
		if (strcmp(env[i].name, name) == 0)
			return env[i].value;
	return NULL;
}

static int ctx_token;

static void collect(void *ctx, const char *msg)
{
	assert_ptr_equal(ctx, &ctx_token);
	assert_true(nwarn < MAX_WARN);
	snprintf(warnings[nwarn++], sizeof(warnings[0]), "%s", msg);
}

static void parse(struct crs_config *cfg)
{
	nwarn = 0;
	crs_config_parse(cfg, fake_getenv, collect, &ctx_token, 1234, 1000);
}

static void dump_warnings(void)
{
	for (int i = 0; i < nwarn; i++)
		print_message("  warning %d: %s\n", i, warnings[i]);
}

/* Exactly one warning, containing every one of the given fragments. */
static void expect_one_warning(const char *frag1, const char *frag2, const char *frag3)
{
	if (nwarn != 1)
		dump_warnings();
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(warnings[0], frag1));
	if (frag2)
		assert_non_null(strstr(warnings[0], frag2));
	if (frag3)
		assert_non_null(strstr(warnings[0], frag3));
}

static void expect_no_warning(void)
{
	if (nwarn)
		dump_warnings();
	assert_int_equal(nwarn, 0);
}

static void expect_defaults(const struct crs_config *cfg)
{
	assert_int_equal(cfg->disabled, 0);
	assert_int_equal(cfg->log_level, CRS_LOG_WARN);
	assert_string_equal(cfg->log_file, "");
	assert_int_equal(cfg->backtrace, 0);
	assert_int_equal(cfg->hooks, CRS_HOOK_ALL);
	assert_int_equal(cfg->nscratch, 0);
	assert_string_equal(cfg->rundir, "/tmp/crshim-1000");
}

static int setup(void **state)
{
	(void)state;
	env_reset();
	return 0;
}

/* ------------------------------------------------------------------ */
/* defaults and good values                                           */
/* ------------------------------------------------------------------ */

static void test_defaults(void **state)
{
	struct crs_config cfg;

	(void)state;
	memset(&cfg, 0x5a, sizeof(cfg)); /* parse must not rely on a zeroed cfg */
	parse(&cfg);
	expect_no_warning();
	expect_defaults(&cfg);

	/* Unrelated variables are not looked at. */
	env_set("CRSHIM_LOGS", "trace");
	env_set("CRSHIM", "1");
	parse(&cfg);
	expect_no_warning();
	expect_defaults(&cfg);

	/* Empty values where empty means "default". */
	env_reset();
	env_set("CRSHIM_DISABLE", "");
	env_set("CRSHIM_BACKTRACE", "");
	env_set("CRSHIM_LOG_FILE", "");
	env_set("CRSHIM_RUNDIR", "");
	env_set("CRSHIM_SCRATCH", "");
	parse(&cfg);
	expect_no_warning();
	expect_defaults(&cfg);

	{
		char rd[64];

		crs_config_default_rundir(0, rd, sizeof(rd));
		assert_string_equal(rd, "/tmp/crshim-0");
		crs_config_default_rundir(4294967294u, rd, sizeof(rd));
		assert_string_equal(rd, "/tmp/crshim-4294967294");
	}
}

static void test_bools(void **state)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off", "" };
	struct crs_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		env_set("CRSHIM_DISABLE", yes[i]);
		env_set("CRSHIM_BACKTRACE", yes[i]);
		parse(&cfg);
		expect_no_warning();
		assert_int_equal(cfg.disabled, 1);
		assert_int_equal(cfg.backtrace, 1);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		env_set("CRSHIM_DISABLE", no[i]);
		env_set("CRSHIM_BACKTRACE", no[i]);
		parse(&cfg);
		expect_no_warning();
		assert_int_equal(cfg.disabled, 0);
		assert_int_equal(cfg.backtrace, 0);
	}
}

static void test_log_levels(void **state)
{
	static const struct {
		const char *s;
		int level;
	} t[] = {
		{ "error", CRS_LOG_ERROR }, { "warn", CRS_LOG_WARN },	{ "warning", CRS_LOG_WARN },
		{ "info", CRS_LOG_INFO },   { "debug", CRS_LOG_DEBUG }, { "trace", CRS_LOG_TRACE },
	};
	struct crs_config cfg;
	int lv;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		env_set("CRSHIM_LOG", t[i].s);
		parse(&cfg);
		expect_no_warning();
		assert_int_equal(cfg.log_level, t[i].level);
		lv = -1;
		assert_int_equal(crs_config_parse_log_level(t[i].s, &lv), 0);
		assert_int_equal(lv, t[i].level);
	}
	lv = 77;
	assert_int_equal(crs_config_parse_log_level("loud", &lv), -1);
	assert_int_equal(lv, 77); /* untouched on failure */
	assert_int_equal(crs_config_parse_log_level("", &lv), -1);
	assert_int_equal(crs_config_parse_log_level("DEBUG", &lv), -1);
	assert_int_equal(crs_config_parse_log_level("debug ", &lv), -1);
	assert_int_equal(crs_config_parse_log_level("2", &lv), -1);
}

static void test_hooks_good(void **state)
{
	static const struct {
		const char *s;
		unsigned mask;
	} t[] = {
		{ "all", CRS_HOOK_ALL },
		{ "none", 0 },
		{ "mmap", CRS_HOOK_MMAP },
		{ "file", CRS_HOOK_FILE },
		{ "shm", CRS_HOOK_SHM },
		{ "sysv", CRS_HOOK_SYSV },
		{ "verbs", CRS_HOOK_VERBS },
		{ "sysv,mmap", CRS_HOOK_SYSV | CRS_HOOK_MMAP },
		{ "mmap,mmap", CRS_HOOK_MMAP },
		{ "mmap,file,shm,sysv,verbs", CRS_HOOK_ALL },
	};
	struct crs_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned m = 0xdead;

		env_set("CRSHIM_HOOKS", t[i].s);
		parse(&cfg);
		expect_no_warning();
		assert_int_equal(cfg.hooks, t[i].mask);
		assert_int_equal(crs_config_parse_hooks(t[i].s, &m), 0);
		assert_int_equal(m, t[i].mask);
	}
}

static void test_good_values(void **state)
{
	struct crs_config cfg;

	(void)state;
	env_set("CRSHIM_DISABLE", "1");
	env_set("CRSHIM_LOG", "debug");
	env_set("CRSHIM_LOG_FILE", "/var/log/crshim.%p.log");
	env_set("CRSHIM_BACKTRACE", "1");
	env_set("CRSHIM_HOOKS", "mmap,shm");
	env_set("CRSHIM_SCRATCH", "/scratch:keep,/tmp/work");
	env_set("CRSHIM_RUNDIR", "/run/user/1000/crshim");
	parse(&cfg);
	expect_no_warning();
	assert_int_equal(cfg.disabled, 1);
	assert_int_equal(cfg.log_level, CRS_LOG_DEBUG);
	assert_string_equal(cfg.log_file, "/var/log/crshim.1234.log");
	assert_int_equal(cfg.backtrace, 1);
	assert_int_equal(cfg.hooks, CRS_HOOK_MMAP | CRS_HOOK_SHM);
	assert_int_equal(cfg.nscratch, 2);
	assert_string_equal(cfg.scratch[0].path, "/scratch");
	assert_int_equal(cfg.scratch[0].policy, CRS_SCRATCH_KEEP);
	assert_string_equal(cfg.scratch[1].path, "/tmp/work");
	assert_int_equal(cfg.scratch[1].policy, CRS_SCRATCH_DROP);
	assert_string_equal(cfg.rundir, "/run/user/1000/crshim");

	/* A parse starts from scratch: nothing leaks from the previous one. */
	env_reset();
	parse(&cfg);
	expect_defaults(&cfg);
}

/* ------------------------------------------------------------------ */
/* malformed values: one warning each, naming the variable and default */
/* ------------------------------------------------------------------ */

static void test_bad_log(void **state)
{
	struct crs_config cfg;

	(void)state;
	env_set("CRSHIM_LOG", "loud");
	parse(&cfg);
	expect_one_warning("CRSHIM_LOG", "'loud'", "default (warn)");
	expect_defaults(&cfg);
	env_set("CRSHIM_LOG", "");
	parse(&cfg);
	expect_one_warning("CRSHIM_LOG", "default (warn)", NULL);
	assert_int_equal(cfg.log_level, CRS_LOG_WARN);
}

static void test_bad_hooks(void **state)
{
	static const char *const bad[] = {
		"mmap,,file", "bogus", "", "mmap,", ",mmap", "mmap,bogus", "MMAP", "all,mmap", "mmap file", ",",
	};
	struct crs_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned m = 0xdead;
		char quoted[64];

		env_set("CRSHIM_HOOKS", bad[i]);
		parse(&cfg);
		snprintf(quoted, sizeof(quoted), "'%s'", bad[i]);
		expect_one_warning("CRSHIM_HOOKS", quoted, "default (all)");
		expect_defaults(&cfg);
		assert_int_equal(crs_config_parse_hooks(bad[i], &m), -1);
		assert_int_equal(m, 0xdead);
	}
}

static void test_bad_bools(void **state)
{
	struct crs_config cfg;

	(void)state;
	env_set("CRSHIM_BACKTRACE", "maybe");
	parse(&cfg);
	expect_one_warning("CRSHIM_BACKTRACE", "'maybe'", "default (0)");
	expect_defaults(&cfg);

	env_reset();
	env_set("CRSHIM_DISABLE", "2");
	parse(&cfg);
	expect_one_warning("CRSHIM_DISABLE", "'2'", "default (0)");
	expect_defaults(&cfg);

	env_set("CRSHIM_DISABLE", "YES");
	parse(&cfg);
	expect_one_warning("CRSHIM_DISABLE", "default (0)", NULL);
	assert_int_equal(cfg.disabled, 0);
}

static void test_bad_rundir(void **state)
{
	static char longdir[600];
	struct crs_config cfg;

	(void)state;
	env_set("CRSHIM_RUNDIR", "relative/dir");
	parse(&cfg);
	expect_one_warning("CRSHIM_RUNDIR", "'relative/dir'", "default (/tmp/crshim-1000)");
	expect_defaults(&cfg);

	/* Too long to hold PID.sock. */
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = 0;
	env_set("CRSHIM_RUNDIR", longdir);
	parse(&cfg);
	expect_one_warning("CRSHIM_RUNDIR", "default (/tmp/crshim-1000)", NULL);
	expect_defaults(&cfg);

	/* The longest accepted one. */
	longdir[512 - 32 - 1] = 0;
	parse(&cfg);
	expect_no_warning();
	assert_string_equal(cfg.rundir, longdir);
	longdir[512 - 32 - 1] = 'd';
	longdir[512 - 32] = 0;
	parse(&cfg);
	expect_one_warning("CRSHIM_RUNDIR", NULL, NULL);
}

static void test_bad_log_file(void **state)
{
	static char longf[700], many_p[400];
	struct crs_config cfg;

	(void)state;
	memset(longf, 'f', sizeof(longf) - 1);
	longf[0] = '/';
	longf[sizeof(longf) - 1] = 0;
	env_set("CRSHIM_LOG_FILE", longf);
	parse(&cfg);
	expect_one_warning("CRSHIM_LOG_FILE", "too long", "default (stderr)");
	expect_defaults(&cfg);

	/* Short template, long expansion. */
	for (size_t i = 0; i + 2 < sizeof(many_p); i += 2)
		memcpy(many_p + i, "%p", 2);
	env_set("CRSHIM_LOG_FILE", many_p);
	parse(&cfg);
	expect_one_warning("CRSHIM_LOG_FILE", "default (stderr)", NULL);
	assert_string_equal(cfg.log_file, "");

	/* 511 characters fit. */
	longf[511] = 0;
	env_set("CRSHIM_LOG_FILE", longf);
	parse(&cfg);
	expect_no_warning();
	assert_string_equal(cfg.log_file, longf);
	longf[511] = 'f';
	longf[512] = 0;
	parse(&cfg);
	expect_one_warning("CRSHIM_LOG_FILE", NULL, NULL);
	assert_string_equal(cfg.log_file, "");
}

static void test_all_bad_at_once(void **state)
{
	static const char *const vars[] = { "CRSHIM_DISABLE", "CRSHIM_LOG",    "CRSHIM_BACKTRACE", "CRSHIM_HOOKS",
					    "CRSHIM_RUNDIR",  "CRSHIM_SCRATCH", "CRSHIM_LOG_FILE" };
	const size_t nvars = sizeof(vars) / sizeof(vars[0]);
	static char longf[700];
	struct crs_config cfg;

	(void)state;
	memset(longf, 'f', sizeof(longf) - 1);
	longf[0] = '/';
	env_set("CRSHIM_DISABLE", "2");
	env_set("CRSHIM_LOG", "loud");
	env_set("CRSHIM_BACKTRACE", "maybe");
	env_set("CRSHIM_HOOKS", "bogus");
	env_set("CRSHIM_RUNDIR", "rel");
	env_set("CRSHIM_SCRATCH", "rel");
	env_set("CRSHIM_LOG_FILE", longf);
	parse(&cfg);
	if (nwarn != (int)nvars)
		dump_warnings();
	assert_int_equal(nwarn, (int)nvars);
	/* One warning per variable, each naming its own and the default used. */
	for (size_t v = 0; v < nvars; v++) {
		int hits = 0;
		char prefix[40];

		snprintf(prefix, sizeof(prefix), "%s:", vars[v]);
		for (int i = 0; i < nwarn; i++)
			hits += strncmp(warnings[i], prefix, strlen(prefix)) == 0;
		assert_int_equal(hits, 1);
	}
	for (int i = 0; i < nwarn; i++) {
		if (!strstr(warnings[i], "using the default ("))
			dump_warnings();
		assert_non_null(strstr(warnings[i], "using the default ("));
	}
	expect_defaults(&cfg);

	/* No warning sink: silent, same result. */
	crs_config_parse(&cfg, fake_getenv, NULL, NULL, 1, 1000);
	expect_defaults(&cfg);
}

/* ------------------------------------------------------------------ */
/* CRSHIM_SCRATCH                                                     */
/* ------------------------------------------------------------------ */

static int scratch(const char *s, struct crs_scratch_dir *d, int *n)
{
	nwarn = 0;
	return crs_config_parse_scratch(s, d, CRS_MAX_SCRATCH_DIRS, n, collect, &ctx_token);
}

static void expect_dir(const struct crs_scratch_dir *d, const char *path, int policy)
{
	assert_string_equal(d->path, path);
	assert_int_equal(d->len, strlen(path));
	assert_int_equal(d->policy, policy);
}

static void test_scratch_syntax(void **state)
{
	struct crs_scratch_dir d[CRS_MAX_SCRATCH_DIRS];
	int n;

	(void)state;
	assert_int_equal(scratch("/a:drop,/b:keep,/c:save", d, &n), 0);
	expect_no_warning();
	assert_int_equal(n, 3);
	expect_dir(&d[0], "/a", CRS_SCRATCH_DROP);
	expect_dir(&d[1], "/b", CRS_SCRATCH_KEEP);
	expect_dir(&d[2], "/c", CRS_SCRATCH_SAVE);

	assert_int_equal(scratch("/d", d, &n), 0);
	expect_no_warning();
	assert_int_equal(n, 1);
	expect_dir(&d[0], "/d", CRS_SCRATCH_DROP);

	/* The old colon-separated list. */
	assert_int_equal(scratch("/x:/y", d, &n), 0);
	expect_no_warning();
	assert_int_equal(n, 2);
	expect_dir(&d[0], "/x", CRS_SCRATCH_DROP);
	expect_dir(&d[1], "/y", CRS_SCRATCH_DROP);
	assert_int_equal(scratch("/x:/y:/z,/w:save", d, &n), 0);
	assert_int_equal(n, 4);
	expect_dir(&d[2], "/z", CRS_SCRATCH_DROP);
	expect_dir(&d[3], "/w", CRS_SCRATCH_SAVE);

	/* Trailing slashes are dropped, except for the root itself. */
	assert_int_equal(scratch("/tmp/s/,/tmp/k///:keep,/,///", d, &n), 0);
	expect_no_warning();
	assert_int_equal(n, 4);
	expect_dir(&d[0], "/tmp/s", CRS_SCRATCH_DROP);
	expect_dir(&d[1], "/tmp/k", CRS_SCRATCH_KEEP);
	expect_dir(&d[2], "/", CRS_SCRATCH_DROP);
	expect_dir(&d[3], "/", CRS_SCRATCH_DROP);

	/* Empty entries are skipped silently. */
	assert_int_equal(scratch(",,/a,,/b:keep,", d, &n), 0);
	expect_no_warning();
	assert_int_equal(n, 2);
	expect_dir(&d[0], "/a", CRS_SCRATCH_DROP);
	expect_dir(&d[1], "/b", CRS_SCRATCH_KEEP);
	assert_int_equal(scratch("", d, &n), 0);
	assert_int_equal(n, 0);
	expect_no_warning();

	/* Spaces are part of names (no trimming). */
	assert_int_equal(scratch("/my dir:keep", d, &n), 0);
	assert_int_equal(n, 1);
	expect_dir(&d[0], "/my dir", CRS_SCRATCH_KEEP);
}

static void test_scratch_bad(void **state)
{
	struct crs_scratch_dir d[CRS_MAX_SCRATCH_DIRS];
	static char longp[700], buf[800];
	int n;

	(void)state;
	/* Relative: warned and ignored, the rest kept. */
	assert_int_equal(scratch("rel/dir,/ok", d, &n), 1);
	expect_one_warning("CRSHIM_SCRATCH", "'rel/dir'", "absolute");
	expect_one_warning("CRSHIM_SCRATCH", "using the default (not scratch) for it", NULL);
	assert_int_equal(n, 1);
	expect_dir(&d[0], "/ok", CRS_SCRATCH_DROP);
	assert_int_equal(scratch("rel:keep", d, &n), 1);
	expect_one_warning("CRSHIM_SCRATCH", "'rel'", NULL);
	assert_int_equal(n, 0);
	assert_int_equal(scratch(":keep", d, &n), 1);
	expect_one_warning("CRSHIM_SCRATCH", NULL, NULL);
	assert_int_equal(n, 0);
	assert_int_equal(scratch("/a:rel", d, &n), 1); /* "rel" is read as a policy */
	expect_one_warning("CRSHIM_SCRATCH", "unknown policy 'rel'", NULL);

	/* Unknown policy: warned and ignored, the rest kept. */
	assert_int_equal(scratch("/e:bogus,/f:keep,/g", d, &n), 1);
	expect_one_warning("CRSHIM_SCRATCH", "'/e'", "unknown policy 'bogus'");
	expect_one_warning("CRSHIM_SCRATCH", "default (not scratch) for it", NULL);
	assert_int_equal(n, 2);
	expect_dir(&d[0], "/f", CRS_SCRATCH_KEEP);
	expect_dir(&d[1], "/g", CRS_SCRATCH_DROP);
	assert_int_equal(scratch("/e:KEEP,/f:", d, &n), 2);
	assert_int_equal(nwarn, 2);
	assert_non_null(strstr(warnings[0], "unknown policy 'KEEP'"));
	assert_non_null(strstr(warnings[1], "unknown policy ''"));
	assert_int_equal(n, 0);

	/* Too long a path. */
	memset(longp, 'p', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	snprintf(buf, sizeof(buf), "%s:keep,/short", longp);
	assert_int_equal(scratch(buf, d, &n), 1);
	expect_one_warning("CRSHIM_SCRATCH", "too long", "default (not scratch) for it");
	assert_int_equal(n, 1);
	expect_dir(&d[0], "/short", CRS_SCRATCH_DROP);
	longp[511] = 0; /* the longest that fits */
	assert_int_equal(scratch(longp, d, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].len, 511);
	longp[511] = 'p';
	longp[512] = 0;
	assert_int_equal(scratch(longp, d, &n), 1);
	assert_int_equal(n, 0);
	/* A long directory with an unknown policy: the line still ends with the default. */
	snprintf(buf, sizeof(buf), "%s:%.70s", longp, longp + 1);
	assert_int_equal(scratch(buf, d, &n), 1);
	expect_one_warning("CRSHIM_SCRATCH", "unknown policy", "default (not scratch) for it");
}

static void test_scratch_too_many(void **state)
{
	struct crs_scratch_dir d[CRS_MAX_SCRATCH_DIRS];
	char list[1024];
	size_t o = 0;
	int n;

	(void)state;
	for (int i = 0; i < 20; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s/d%d:%s", i ? "," : "", i,
				      i % 2 ? "keep" : "save");
	assert_int_equal(scratch(list, d, &n), 4);
	assert_int_equal(nwarn, 4);
	assert_int_equal(n, CRS_MAX_SCRATCH_DIRS);
	for (int i = 0; i < CRS_MAX_SCRATCH_DIRS; i++) {
		char p[16];

		snprintf(p, sizeof(p), "/d%d", i);
		expect_dir(&d[i], p, i % 2 ? CRS_SCRATCH_KEEP : CRS_SCRATCH_SAVE);
	}
	for (int i = 0; i < 4; i++) {
		char p[32];

		snprintf(p, sizeof(p), "'/d%d'", 16 + i);
		assert_non_null(strstr(warnings[i], "CRSHIM_SCRATCH"));
		assert_non_null(strstr(warnings[i], p));
		assert_non_null(strstr(warnings[i], "more than 16"));
		assert_non_null(strstr(warnings[i], "default (not scratch) for it"));
	}

	/* Through crs_config_parse, with the colon syntax. */
	o = 0;
	for (int i = 0; i < 17; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s/c%d", i ? ":" : "", i);
	{
		struct crs_config cfg;

		env_set("CRSHIM_SCRATCH", list);
		parse(&cfg);
		expect_one_warning("CRSHIM_SCRATCH", "'/c16'", "more than 16");
		assert_int_equal(cfg.nscratch, CRS_MAX_SCRATCH_DIRS);
		assert_string_equal(cfg.scratch[15].path, "/c15");
	}
	/* A smaller max is honoured. */
	nwarn = 0;
	assert_int_equal(crs_config_parse_scratch("/a,/b,/c", d, 2, &n, collect, &ctx_token), 1);
	assert_int_equal(n, 2);
	assert_int_equal(nwarn, 1);
}

static void test_scratch_via_parse(void **state)
{
	struct crs_config cfg;

	(void)state;
	env_set("CRSHIM_SCRATCH", "/a:drop,rel,/b:nope,/c:save");
	parse(&cfg);
	assert_int_equal(nwarn, 2);
	assert_non_null(strstr(warnings[0], "'rel'"));
	assert_non_null(strstr(warnings[1], "'nope'"));
	assert_int_equal(cfg.nscratch, 2);
	expect_dir(&cfg.scratch[0], "/a", CRS_SCRATCH_DROP);
	expect_dir(&cfg.scratch[1], "/c", CRS_SCRATCH_SAVE);
	/* The other settings are not disturbed. */
	assert_int_equal(cfg.hooks, CRS_HOOK_ALL);
	assert_int_equal(cfg.log_level, CRS_LOG_WARN);
}

static void test_scratch_policy(void **state)
{
	struct crs_config cfg;

	(void)state;
	/* Most specific first in the list, then last: same answers. */
	for (int order = 0; order < 2; order++) {
		env_set("CRSHIM_SCRATCH", order ? "/tmp/scratch/keepme:keep,/tmp/scratch/,/data/out:save"
						: "/data/out:save,/tmp/scratch:drop,/tmp/scratch/keepme/:keep");
		parse(&cfg);
		expect_no_warning();
		assert_int_equal(cfg.nscratch, 3);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratch/f"), CRS_SCRATCH_DROP);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratch/sub/dir/f"), CRS_SCRATCH_DROP);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratch/keepme/x"), CRS_SCRATCH_KEEP);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratch/keepme/a/b"), CRS_SCRATCH_KEEP);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratch/keepmenot/x"), CRS_SCRATCH_DROP);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratch/keepme"), CRS_SCRATCH_DROP);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/data/out/result.bin"), CRS_SCRATCH_SAVE);
		/* Prefixes that are not directory boundaries. */
		assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratchy/f"), CRS_SCRATCH_NONE);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratch"), CRS_SCRATCH_NONE);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/data/outside/f"), CRS_SCRATCH_NONE);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scr"), CRS_SCRATCH_NONE);
		assert_int_equal(crs_config_scratch_policy(&cfg, "/etc/passwd"), CRS_SCRATCH_NONE);
		assert_int_equal(crs_config_scratch_policy(&cfg, ""), CRS_SCRATCH_NONE);
	}
	/* The root directory contains everything; anything deeper wins. */
	env_set("CRSHIM_SCRATCH", "/:save,/tmp/scratch:drop");
	parse(&cfg);
	assert_int_equal(crs_config_scratch_policy(&cfg, "/etc/passwd"), CRS_SCRATCH_SAVE);
	assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratchy/f"), CRS_SCRATCH_SAVE);
	assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratch/f"), CRS_SCRATCH_DROP);
	/* Nothing configured. */
	env_reset();
	parse(&cfg);
	assert_int_equal(crs_config_scratch_policy(&cfg, "/tmp/scratch/f"), CRS_SCRATCH_NONE);
}

/* ------------------------------------------------------------------ */
/* crs_config_expand_path                                             */
/* ------------------------------------------------------------------ */

static void test_expand_path(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(crs_config_expand_path("/tmp/log.%p", 1234, out, sizeof(out)), 0);
	assert_string_equal(out, "/tmp/log.1234");
	assert_int_equal(crs_config_expand_path("%p-%p", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "7-7");
	assert_int_equal(crs_config_expand_path("%%p", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "%p");
	assert_int_equal(crs_config_expand_path("100%%", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "100%");
	assert_int_equal(crs_config_expand_path("%%%p", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "%7");
	assert_int_equal(crs_config_expand_path("%x%", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "%x%"); /* unknown or lone %: kept */
	assert_int_equal(crs_config_expand_path("plain", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "plain");
	assert_int_equal(crs_config_expand_path("", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(crs_config_expand_path("%p", 2147483647, out, sizeof(out)), 0);
	assert_string_equal(out, "2147483647");

	/* Exact fits and one byte short. */
	assert_int_equal(crs_config_expand_path("abc", 1, out, 4), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(crs_config_expand_path("abc", 1, out, 3), -1);
	assert_int_equal(crs_config_expand_path("x%p", 1234, out, 6), 0);
	assert_string_equal(out, "x1234");
	assert_int_equal(crs_config_expand_path("x%p", 1234, out, 5), -1);
	assert_int_equal(crs_config_expand_path("%%", 1, out, 2), 0);
	assert_string_equal(out, "%");
	assert_int_equal(crs_config_expand_path("%%", 1, out, 1), -1);
	assert_int_equal(crs_config_expand_path("", 1, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(crs_config_expand_path("", 1, out, 0), -1);

	/* No write past outlen on overflow. */
	memset(out, '#', sizeof(out));
	assert_int_equal(crs_config_expand_path("%p%p%p%p%p%p%p%p", 123456, out, 20), -1);
	for (size_t i = 20; i < sizeof(out); i++)
		assert_int_equal(out[i], '#');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, setup),
		cmocka_unit_test_setup(test_bools, setup),
		cmocka_unit_test_setup(test_log_levels, setup),
		cmocka_unit_test_setup(test_hooks_good, setup),
		cmocka_unit_test_setup(test_good_values, setup),
		cmocka_unit_test_setup(test_bad_log, setup),
		cmocka_unit_test_setup(test_bad_hooks, setup),
		cmocka_unit_test_setup(test_bad_bools, setup),
		cmocka_unit_test_setup(test_bad_rundir, setup),
		cmocka_unit_test_setup(test_bad_log_file, setup),
		cmocka_unit_test_setup(test_all_bad_at_once, setup),
		cmocka_unit_test_setup(test_scratch_syntax, setup),
		cmocka_unit_test_setup(test_scratch_bad, setup),
		cmocka_unit_test_setup(test_scratch_too_many, setup),
		cmocka_unit_test_setup(test_scratch_via_parse, setup),
		cmocka_unit_test_setup(test_scratch_policy, setup),
		cmocka_unit_test_setup(test_expand_path, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
