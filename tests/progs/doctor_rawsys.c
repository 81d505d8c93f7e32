/*
 * doctor_rawsys: a dynamic program that makes system calls past the hooks:
 * an inline `syscall` instruction and the libc function syscall().
 * `crshim doctor` must report both and exit 1.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

/* getpid through the raw instruction: no libc, no PLT, no hook */
static long raw_getpid(void)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_getpid) : "rcx", "r11", "memory");
	return ret;
}

int main(void)
{
	long a = raw_getpid();
	long b = syscall(SYS_getpid);

	printf("%ld %ld\n", a, b);
	return a == b ? 0 : 1;
}
