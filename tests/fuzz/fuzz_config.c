/*
 * fuzz_config: the CRSHIM_* environment variables (preload/config.c), read
 * through crs_config_parse() with a fake getenv.
 *
 * Input: one byte saying which of the seven variables are set, then their
 * values separated by NUL bytes (a variable's value cannot hold a NUL), then
 * a path looked up in the parsed scratch directories.  Asserted: the parse
 * never fails or overflows, every warning is one NUL-terminated line, and
 * the result is sane: a log level in range, a hook mask within
 * CRS_HOOK_ALL, at most CRS_MAX_SCRATCH_DIRS scratch directories, each
 * absolute, of the recorded length, without a trailing slash (except "/")
 * and with a known policy, an absolute rundir, a log file name that fits.
 * crs_config_expand_path is also run on every value with small buffers.
 */
#include "registry.h"
#include "shim.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static const char *const names[] = { "CRSHIM_DISABLE",   "CRSHIM_LOG",	  "CRSHIM_LOG_FILE", "CRSHIM_BACKTRACE",
				     "CRSHIM_HOOKS",	 "CRSHIM_SCRATCH", "CRSHIM_RUNDIR" };
#define NVARS (sizeof(names) / sizeof(names[0]))

static const char *values[NVARS];

static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; i < NVARS; i++)
		if (!strcmp(name, names[i]))
			return values[i];
	return NULL;
}

static int nwarnings;

static void on_warning(void *ctx, const char *msg)
{
	(void)ctx;
	if (strlen(msg) >= 640 || strchr(msg, '\n')) { /* one line, and it fit the shim's buffer */
		fprintf(stderr, "check failed: a warning of more than one line: '%s'\n", msg);
		abort();
	}
	nwarnings++;
}

static struct crs_config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *p, *end, *path = "";
	unsigned set;
	char out[64];

	if (size < 1)
		return 0;
	set = data[0];
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = 0;
	p = buf;
	end = buf + size - 1;
	for (size_t i = 0; i < NVARS; i++) {
		values[i] = NULL;
		if (p > end)
			continue;
		if (set & (1u << i))
			values[i] = p;
		p += strlen(p) + 1;
	}
	if (p <= end)
		path = p;

	nwarnings = 0;
	crs_config_parse(&cfg, fake_getenv, on_warning, NULL, 4242, 1000);
	CHECK(cfg.disabled == 0 || cfg.disabled == 1);
	CHECK(cfg.log_level >= CRS_LOG_ERROR && cfg.log_level <= CRS_LOG_TRACE);
	CHECK((cfg.hooks & ~(unsigned)CRS_HOOK_ALL) == 0);
	CHECK(cfg.backtrace == 0 || cfg.backtrace == 1);
	CHECK(memchr(cfg.log_file, 0, sizeof(cfg.log_file)) && memchr(cfg.log_tmpl, 0, sizeof(cfg.log_tmpl)));
	CHECK(memchr(cfg.rundir, 0, sizeof(cfg.rundir)) && cfg.rundir[0] == '/');
	CHECK(cfg.nscratch >= 0 && cfg.nscratch <= CRS_MAX_SCRATCH_DIRS);
	for (int i = 0; i < cfg.nscratch; i++) {
		const struct crs_scratch_dir *d = &cfg.scratch[i];

		CHECK(memchr(d->path, 0, sizeof(d->path)));
		CHECK(d->len == strlen(d->path) && d->len > 0 && d->path[0] == '/');
		CHECK(d->len == 1 || d->path[d->len - 1] != '/');
		CHECK(d->policy >= CRS_SCRATCH_DROP && d->policy <= CRS_SCRATCH_SAVE);
	}
	/* Every value is also a path template and a scratch lookup. */
	{
		int pol = crs_config_scratch_policy(&cfg, path);

		CHECK(pol >= 0 && pol <= CRS_SCRATCH_SAVE);
	}
	for (size_t i = 0; i < NVARS; i++) {
		if (!values[i])
			continue;
		for (size_t len = 1; len <= sizeof(out); len += 21)
			if (crs_config_expand_path(values[i], 7, out, len) == 0)
				CHECK(strlen(out) < len);
		if (crs_config_parse_hooks(values[i], &set) == 0)
			CHECK((set & ~(unsigned)CRS_HOOK_ALL) == 0);
	}
	free(buf);
	return 0;
}
