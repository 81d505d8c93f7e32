/* Waiting for a restored child, forwarding signals (restore_child.h). */
#include "restore_child.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
#define NFWD (sizeof(forwarded) / sizeof(forwarded[0]))

static volatile sig_atomic_t target; /* pid to forward to, 0 until known */
static volatile sig_atomic_t kept;   /* bit N: signal N arrived before */
static pid_t tty_owner;		     /* our group, when we gave the terminal away */

static void on_signal(int sig)
{
	int saved = errno;

	if (target > 0)
		kill((pid_t)target, sig);
	else
		kept |= 1 << sig;
	errno = saved;
}

void child_signals_catch(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NFWD; i++)
		sigaddset(&sa.sa_mask, forwarded[i]);
	/* no SA_RESTART: waitpid returns with EINTR and looks again */
	for (size_t i = 0; i < NFWD; i++)
		sigaction(forwarded[i], &sa, NULL);
}

void child_signals_forward(pid_t pid)
{
	sigset_t all, old;

	sigemptyset(&all);
	for (size_t i = 0; i < NFWD; i++)
		sigaddset(&all, forwarded[i]);
	sigprocmask(SIG_BLOCK, &all, &old);
	target = pid;
	for (size_t i = 0; i < NFWD; i++)
		if (kept & (1 << forwarded[i]))
			kill(pid, forwarded[i]);
	kept = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void child_take_terminal(pid_t pid)
{
	pid_t grp = getpgid(pid);

	if (!isatty(0) || tcgetpgrp(0) != getpgrp() || grp <= 0 || grp == getpgrp())
		return;
	if (tcsetpgrp(0, grp) == 0)
		tty_owner = getpgrp();
}

static void give_back_terminal(void)
{
	struct sigaction ign, old;

	if (!tty_owner)
		return;
	/* We are in the background now: without this, SIGTTOU stops us. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGTTOU, &ign, &old);
	tcsetpgrp(0, tty_owner);
	sigaction(SIGTTOU, &old, NULL);
	tty_owner = 0;
}

/* The child was stopped (Ctrl-Z): stop too, so the shell sees the job
 * stopped; when continued, continue it. */
static void follow_stop(pid_t pid)
{
	pid_t grp = getpgid(pid);
	int had = tty_owner != 0;

	give_back_terminal();
	kill(getpid(), SIGSTOP);
	if (had)
		child_take_terminal(pid);
	kill(grp > 0 ? -grp : pid, SIGCONT);
}

int child_wait(pid_t pid)
{
	int st = 0, code;

	for (;;) {
		pid_t w = waitpid(-1, &st, WUNTRACED);

		if (w == pid && WIFSTOPPED(st)) {
			follow_stop(pid);
			continue;
		}
		if (w == pid)
			break;
		if (w < 0 && errno == ECHILD) {
			/* Not our child after all: wait for it to end, status unknown. */
			while (kill(pid, 0) == 0)
				usleep(100000);
			target = 0;
			give_back_terminal();
			return -1;
		}
	}
	target = 0;
	give_back_terminal();
	if (WIFEXITED(st))
		code = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		code = 128 + WTERMSIG(st);
	else
		code = 1;
	return code;
}

void child_reap_all(void)
{
	for (int i = 0; i < 50; i++) {
		pid_t w = waitpid(-1, NULL, WNOHANG);

		if (w < 0)
			return;
		if (w == 0)
			usleep(20000);
	}
}
