/*
 * exit_on_wake: a tree whose processes end as soon as a restore lets them
 * run, for test_criu_resume.sh.
 *
 *   exit_on_wake RESULT_FILE
 *
 * Forks a child that starts 16 threads that wait forever, sleeps for an
 * hour in nanosleep() and then exits 7, whatever nanosleep returned.  CRIU
 * restores a sleep it interrupted as EINTR, so a restored child exits at
 * once, and its main thread's exit takes the other threads (these and the
 * shim's control thread) along while CRIU may still be letting go of them
 * one by one (the more threads, the likelier).  The parent waits for the
 * child and writes "child N" (its exit status) to RESULT_FILE, then exits 0.
 * Prints "ready PARENT CHILD".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 16

static void *wait_forever(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	FILE *f;
	pid_t c;
	int st;

	if (argc != 2) {
		fprintf(stderr, "usage: exit_on_wake RESULT_FILE\n");
		return 2;
	}
	c = fork();
	if (c < 0)
		return 1;
	if (c == 0) {
		struct timespec ts = { 3600, 0 };
		pthread_t t;

		for (int i = 0; i < THREADS; i++)
			if (pthread_create(&t, NULL, wait_forever, NULL) != 0)
				_exit(1);
		nanosleep(&ts, NULL);
		_exit(7);
	}
	printf("ready %d %d\n", (int)getpid(), (int)c);
	fflush(stdout);
	while (waitpid(c, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	fclose(f);
	return 0;
}
