/*
 * fuzz_manifest: reading a checkpoint's manifest.json (tools/manifest.c
 * manifest_load, and manifest_validate when this tree has it), then the
 * restore-side code that reads the pool and scratch entries, without
 * creating anything: pool_recreate() is given a checkpoint directory that
 * does not exist (it stops when it cannot open the saved copy) and
 * scratch_check_kept() only stats.
 *
 * Each input is the manifest text, written to DIR/manifest.json of a
 * private directory.  Asserted: no crash, overflow or leak whatever the
 * text; an accepted manifest has the format, version and completeness
 * restore requires, and (with validation) every field restore reads has the
 * type and range it assumes: string paths (absolute for what is recreated,
 * inside the checkpoint for data and images), integer pids, sizes and modes
 * without set-id bits, a known scratch policy, file[...] keys.
 */
#include "manifest.h"
#include "pools.h"
#include "scratch.h"

#include "crshim_manifest.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"

static char dir[64], file[96];

static int inner(const char *s)
{
	return s && s[0] && s[0] != '/' && !strstr(s, "..");
}

#ifdef CRSHIM_MANIFEST_VALIDATE
/* What cmd_restore.c takes for granted once the manifest was accepted. */
static void assumptions(json_t *m)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(m, "dumps"), i, e) {
		const char *images = json_string_value(json_object_get(e, "images"));

		CHECK(inner(images) || (images && !strstr(images, "/../") && strncmp(images, "../", 3) &&
					strcmp(images, "..")));
		CHECK(json_integer_value(json_object_get(e, "root_pid")) > 0);
		CHECK(json_array_size(json_object_get(e, "pids")) > 0);
	}
	json_array_foreach(json_object_get(m, "pools"), i, e) {
		CHECK(json_string_value(json_object_get(e, "path"))[0] == '/');
		CHECK(json_string_value(json_object_get(e, "data")));
		CHECK(json_string_value(json_object_get(e, "external")));
		CHECK(!(json_integer_value(json_object_get(e, "mode")) & 06000));
		CHECK(json_integer_value(json_object_get(e, "size")) >= 0);
	}
	json_array_foreach(json_object_get(m, "scratch"), i, e) {
		const char *pol = json_string_value(json_object_get(e, "policy"));

		CHECK(pol && (!strcmp(pol, "drop") || !strcmp(pol, "keep") || !strcmp(pol, "save")));
		CHECK(json_string_value(json_object_get(e, "path"))[0] == '/');
		CHECK(json_string_value(json_object_get(e, "external")));
		CHECK(strcmp(pol, "save") || json_string_value(json_object_get(e, "data")));
	}
	json_array_foreach(json_object_get(m, "outputs"), i, e) {
		CHECK(json_string_value(json_object_get(e, "path"))[0] == '/');
		CHECK(json_string_value(json_object_get(e, "external")));
	}
	json_array_foreach(json_object_get(m, "fifos"), i, e)
		CHECK(json_string_value(json_object_get(e, "path"))[0] == '/');
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[4400];
	json_t *m, *e;
	size_t i;
	int fd;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/dev/shm/crshim-fuzz-manifest.XXXXXX");
		if (!mkdtemp(dir)) {
			snprintf(dir, sizeof(dir), "/tmp/crshim-fuzz-manifest.XXXXXX");
			if (!mkdtemp(dir))
				abort();
		}
		snprintf(file, sizeof(file), "%s/%s", dir, CRSHIM_MANIFEST_FILE);
	}
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	m = manifest_load(dir, err, sizeof(err));
	if (!m) {
		CHECK(memchr(err, 0, sizeof(err)) && err[0]);
		return 0;
	}
	CHECK(!strcmp(json_string_value(json_object_get(m, "format")), CRSHIM_MANIFEST_FORMAT));
	CHECK(json_integer_value(json_object_get(m, "version")) == CRSHIM_MANIFEST_VERSION);
	CHECK(json_is_true(json_object_get(m, "complete")));
#ifdef CRSHIM_MANIFEST_VALIDATE
	assumptions(m);
#endif
	/* The restore-side readers, on a checkpoint directory that is not there. */
	json_array_foreach(json_object_get(m, "pools"), i, e) {
		int pfd = pool_recreate(e, "/nonexistent-crshim-fuzz", 0, err, sizeof(err));

		CHECK(pfd < 0);
	}
	json_array_foreach(json_object_get(m, "scratch"), i, e)
		scratch_check_kept(e, err, sizeof(err));
	json_decref(m);
	return 0;
}

/* Remove the private directory at exit. */
__attribute__((destructor)) static void cleanup(void)
{
	if (dir[0]) {
		unlink(file);
		rmdir(dir);
	}
}
