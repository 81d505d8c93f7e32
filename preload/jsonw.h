/*
 * A small streaming JSON writer for the shim's answers: fixed buffer flushed
 * to an fd with write(2), no allocation.  (The tools parse JSON with
 * jansson; the shim only ever writes it.)
 */
#ifndef CRSHIM_JSONW_H
#define CRSHIM_JSONW_H

#include <stddef.h>
#include <stdint.h>

#define CRS_JSONW_DEPTH 64 /* deeper output sets error */

struct crs_jsonw {
	int fd;
	int error;		   /* a write failed; later output is dropped */
	size_t len;
	int depth;
	unsigned char need_comma[CRS_JSONW_DEPTH];
	unsigned char after_key;
	char buf[8192];
};

void crs_jsonw_init(struct crs_jsonw *w, int fd);
int crs_jsonw_flush(struct crs_jsonw *w);
void crs_jsonw_obj_begin(struct crs_jsonw *w);
void crs_jsonw_obj_end(struct crs_jsonw *w);
void crs_jsonw_arr_begin(struct crs_jsonw *w);
void crs_jsonw_arr_end(struct crs_jsonw *w);
void crs_jsonw_key(struct crs_jsonw *w, const char *key);
void crs_jsonw_str(struct crs_jsonw *w, const char *s);
void crs_jsonw_int(struct crs_jsonw *w, int64_t v);
void crs_jsonw_uint(struct crs_jsonw *w, uint64_t v);
void crs_jsonw_bool(struct crs_jsonw *w, int v);
void crs_jsonw_null(struct crs_jsonw *w);
/* "key": value shortcuts */
void crs_jsonw_kv_str(struct crs_jsonw *w, const char *key, const char *s);
void crs_jsonw_kv_int(struct crs_jsonw *w, const char *key, int64_t v);
void crs_jsonw_kv_uint(struct crs_jsonw *w, const char *key, uint64_t v);
void crs_jsonw_kv_bool(struct crs_jsonw *w, const char *key, int v);
/* Hex string "0x..." for addresses (JSON numbers lose precision above 2^53). */
void crs_jsonw_kv_hex(struct crs_jsonw *w, const char *key, uint64_t v);

#endif
