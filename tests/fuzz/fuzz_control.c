/*
 * fuzz_control: the shim's side of the control protocol
 * (include/crshim_control.h): preload/control.c is compiled in here so that
 * its static request reader and dispatcher run exactly as in the shim.
 *
 * Each input is what a client sends on one connection: it is written into a
 * socketpair, handle() reads the request line from the other end (up to
 * CRSHIM_CONTROL_MAX_REQUEST bytes, until a newline or EOF), dispatches it
 * and answers.  The registry holds a few objects with awkward names
 * (quotes, control characters, bytes that are not UTF-8), so STATUS and
 * PREPARE answers go through the whole process record.  Asserted for every
 * input: one answer, which is exactly one valid JSON object (strict UTF-8)
 * followed by a newline, with a boolean "ok", and an "error" sentence when
 * ok is false; the shim's phase stays "running" or "prepared".
 * PARK/SWAP/UNPARK run the real preload/swap.c with the thread parking
 * stubbed (it would stop the fuzzer's own threads): they must refuse
 * cleanly.  Requests with an fd (SCM_RIGHTS) are not fuzzed.
 */
#include "control.c" /* preload/control.c */

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- what control.c needs besides registry, config, log, jsonw, report, swap ---- */
int crs_guard_enter(void)
{
	return 1;
}

void crs_guard_leave(void)
{
}

int crs_creds_changing(void)
{
	return 0;
}

void crs_reopen_prepare(void)
{
}

void crs_api_prepare(void)
{
}

void crs_api_marks_report(struct crs_jsonw *w)
{
	(void)w;
}

static char dropped_seen[CRSHIM_CONTROL_MAX_REQUEST];

void crs_api_note_dropped(const char *path)
{
	size_t n = strlen(path); /* a NUL-terminated argument, inside the request */

	if (n >= sizeof(dropped_seen))
		abort();
	memcpy(dropped_seen, path, n + 1);
}

void crs_backtrace_describe(uintptr_t ip, char *out, size_t outlen)
{
	snprintf(out, outlen, "0x%lx", (unsigned long)ip);
}

/* ---- the harness ---- */
static const char *fake_env(const char *name)
{
	if (!strcmp(name, "CRSHIM_SCRATCH"))
		return "/tmp/fuzz-scratch:keep,/var/tmp/\"q\":save";
	if (!strcmp(name, "CRSHIM_LOG"))
		return "error";
	return NULL;
}

static void setup(void)
{
	static const char *const paths[] = {
		"/dev/shm/pool \"quoted\" \\ back",
		"/tmp/ctl\x01\x1f\x7f-chars",
		"/tmp/latin1-\xe9\xff\xfe-bytes",
		"/tmp/surrogate-\xed\xa0\x80-overlong-\xc0\xaf-\xf4\x90\x80\x80",
		"/memfd:buf (deleted)",
	};
	uintptr_t base = 0x7f0000000000;

	crs_config_parse(&crs_cfg, fake_env, NULL, NULL, getpid(), getuid());
	if (crs_reg_init(64, 256, 1024) < 0)
		abort();
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct crs_object_key key = { .kind = i == 4 ? CRS_OBJ_MEMFD : CRS_OBJ_FILE, .dev = 1, .ino = 100 + i };
		uint32_t obj = crs_reg_object_get(&key, paths[i], 4096 * (i + 1), 0100600, NULL, 0);

		if (obj == CRS_NO_OBJECT)
			abort();
		crs_reg_map_add(base + i * 0x10000, 0x2000, 0, 3, 1 /* MAP_SHARED */, obj);
		crs_reg_fd_set(900 + (int)i, obj); /* not open: RESTORED's fstat fails */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static char answer[1 << 20];
	int sv[2];
	size_t len = 0;
	ssize_t n;
	json_t *doc, *ok;
	json_error_t je;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size > 3 * CRSHIM_CONTROL_MAX_REQUEST)
		return 0; /* more than fits the socket buffer unread */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (size && write(sv[0], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[0], SHUT_WR);
	handle(sv[1]);
	close(sv[1]);
	while ((n = read(sv[0], answer + len, sizeof(answer) - 1 - len)) > 0)
		len += (size_t)n;
	close(sv[0]);
	answer[len] = 0;
	if (len < 2 || answer[len - 1] != '\n') {
		fprintf(stderr, "no answer, or not ended by a newline: '%s'\n", answer);
		abort();
	}
	doc = json_loadb(answer, len - 1, 0, &je);
	if (!doc || !json_is_object(doc)) {
		fprintf(stderr, "answer is not one JSON object (%s): %s\n", je.text, answer);
		abort();
	}
	ok = json_object_get(doc, "ok");
	if (!json_is_boolean(ok) || (json_is_false(ok) && !json_is_string(json_object_get(doc, "error")))) {
		fprintf(stderr, "answer without ok, or a failure without error: %s\n", answer);
		abort();
	}
	if (crs_control_phase() != CRS_PHASE_RUNNING && crs_control_phase() != CRS_PHASE_PREPARED)
		abort();
	json_decref(doc);
	return 0;
}
