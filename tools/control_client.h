/* Client side of the control protocol (include/crshim_control.h). */
#ifndef CRSHIM_CONTROL_CLIENT_H
#define CRSHIM_CONTROL_CLIENT_H

#include <jansson.h>
#include <sys/types.h>

/* Why a request failed, for a one-line message. */
enum ctl_error {
	CTL_OK = 0,
	CTL_NO_PROCESS,	   /* pid does not exist */
	CTL_NO_SHIM,	   /* no endpoint: the process runs without the shim */
	CTL_DENIED,	   /* another user's process or endpoint */
	CTL_UNREACHABLE,   /* endpoint exists but nobody answers (stale, stopped) */
	CTL_BAD_ANSWER,	   /* answer was not JSON or had ok:false */
};

/*
 * Send one request line (without newline) to pid's shim and parse the
 * answer.  timeout_ms bounds connect+read.  On success *answer holds the
 * JSON (caller json_decref's it).  On failure a sentence is put in err.
 */
enum ctl_error ctl_request(pid_t pid, const char *request, int timeout_ms, json_t **answer,
			   char *err, size_t errlen);

/* The same, passing an open fd with the request (SCM_RIGHTS). */
enum ctl_error ctl_request_fd(pid_t pid, const char *request, int pass_fd, int timeout_ms, json_t **answer,
			      char *err, size_t errlen);

/* The answer of pid's shim, len bytes of buf (not NUL-terminated), parsed
 * as ctl_request does: CTL_OK with *answer an object whose "ok" is true, or
 * CTL_BAD_ANSWER with a sentence in err and *answer the JSON (if it was
 * JSON) or NULL.  Pure: no I/O (tests/fuzz/fuzz_answer.c). */
enum ctl_error ctl_parse_answer(pid_t pid, const char *buf, size_t len, json_t **answer, char *err,
				size_t errlen);

/* Path of pid's endpoint under the rundir for the calling user (or uid). */
int ctl_endpoint_path(pid_t pid, uid_t uid, char *out, size_t outlen);

#endif
