/* Writing and reading the checkpoint manifest (include/crshim_manifest.h). */
#ifndef CRSHIM_MANIFEST_IO_H
#define CRSHIM_MANIFEST_IO_H

#include <jansson.h>
#include <stddef.h>

/* Write DIR/manifest.json atomically (temporary, fsync, rename, fsync dir),
 * mode 0600.  Returns 0 or -1 with a sentence in err. */
int manifest_write(const char *dir, json_t *manifest, char *err, size_t errlen);
/* Load and validate DIR/manifest.json: format, version, completeness.
 * Returns the document or NULL with a sentence in err. */
json_t *manifest_load(const char *dir, char *err, size_t errlen);
/*
 * Check every field `crshim restore` uses, with its type and range: pids,
 * sizes, modes (no set-user-ID or set-group-ID bits), owners, absolute paths
 * for what is recreated, and data/images paths that stay inside the
 * checkpoint (relative, no ".." component).  manifest_load calls it.
 * Returns 0, or -1 with a sentence naming the field in err.
 */
int manifest_validate(json_t *m, char *err, size_t errlen);
#define CRSHIM_MANIFEST_VALIDATE 1

/* Write any small text file atomically (mode 0600). */
int write_file_atomic(const char *path, const char *text, char *err, size_t errlen);

#endif
