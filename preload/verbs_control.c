/*
 * The verbs layer as the control endpoint sees it: PREPARE (quiesce and
 * release), RESUME / RESTORED (rebuild, connect to this process's own QPs
 * only, open the gate) and the VERBS_ requests `crshim` uses to do the
 * same across processes:
 *
 *   VERBS_TABLE     the translation table (ports, QPs, changed rkeys)
 *   VERBS_QUIESCE   close the gate, drain sends; answers the table
 *   VERBS_REBUILD   recreate released objects (QPs up to INIT); the table
 *   VERBS_CONNECT   with the peer table as a passed fd: QPs to RTR/RTS
 *   VERBS_GO        open the gate: the program's verbs calls go on
 */
#include "jsonw.h"
#include "verbs_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int crs_verbs_prepare(char *err, size_t errlen)
{
	if (!crs_active(CRS_HOOK_VERBS))
		return 0;
	if (vb_quiesce(err, errlen) < 0)
		return -1;
	if (vb_release(err, errlen) < 0) {
		vb_go();
		return -1;
	}
	return 0;
}

int crs_verbs_resume(int restored, char *err, size_t errlen)
{
	if (!crs_active(CRS_HOOK_VERBS) || vb_state == VB_RUNNING)
		return 0;
	if (vb_rebuild(err, errlen) < 0 || vb_connect(-1, err, errlen) < 0)
		return -1;
	vb_go();
	crs_debug("verbs: %s, running again", restored ? "restored" : "resumed");
	return 0;
}

static void answer_fail(struct crs_jsonw *w, const char *msg)
{
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_bool(w, "ok", 0);
	crs_jsonw_kv_str(w, "error", msg);
	crs_jsonw_obj_end(w);
}

static void answer_table(struct crs_jsonw *w)
{
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_bool(w, "ok", 1);
	crs_jsonw_kv_int(w, "pid", getpid());
	pthread_mutex_lock(&vb_lock);
	vb_write_table(w);
	pthread_mutex_unlock(&vb_lock);
	crs_jsonw_obj_end(w);
}

int crs_verbs_request(struct crs_jsonw *w, const char *req, int fd)
{
	char err[512];

	if (!crs_active(CRS_HOOK_VERBS)) {
		answer_fail(w, "the verbs layer is off in this process (CRSHIM_HOOKS)");
		return 1;
	}
	if (!strcmp(req, "VERBS_TABLE")) {
		answer_table(w);
	} else if (!strcmp(req, "VERBS_QUIESCE")) {
		if (vb_quiesce(err, sizeof(err)) < 0)
			answer_fail(w, err);
		else
			answer_table(w);
	} else if (!strcmp(req, "VERBS_REBUILD")) {
		if (vb_rebuild(err, sizeof(err)) < 0)
			answer_fail(w, err);
		else
			answer_table(w);
	} else if (!strcmp(req, "VERBS_CONNECT")) {
		if (fd < 0)
			answer_fail(w, "VERBS_CONNECT needs the peer table as a passed file descriptor");
		else if (vb_connect(fd, err, sizeof(err)) < 0)
			answer_fail(w, err);
		else
			answer_table(w);
	} else if (!strcmp(req, "VERBS_GO")) {
		vb_go();
		answer_table(w);
	} else {
		return 0;
	}
	return 1;
}
