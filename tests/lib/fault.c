// SPDX-License-Identifier: MIT
/*
 * tests/lib/fault.c - a library tests preload into kvshmd (LD_PRELOAD,
 * set by test_fault_env()) to make the system calls behind its fallbacks
 * fail, as a file system or a full /dev/shm would:
 *
 *	KVSHM_FAULT=fallocate	  every fallocate(2) fails with EOPNOTSUPP
 *				  (WAL segments cannot be preallocated)
 *	KVSHM_FAULT=shm-pwrite:N  the first N pwrite(2)s into files under
 *				  /dev/shm succeed, every later one fails
 *				  with EIO (the snapshot loader's writes
 *				  into the data segment)
 *
 * The first failure it makes writes "kvshm-fault: MODE injected" to
 * stderr (kvshmd's log in the tests), so a test can tell the fault was
 * met. Everything else goes straight to the kernel.
 */
/* The wrappers below define both the plain and the 64-bit names; with
 * 64-bit file offsets requested, glibc's headers would rename the plain
 * ones to the 64-bit ones and the two definitions would clash. */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int said;
static long shm_writes;

static void injected(const char *mode)
{
	if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		fprintf(stderr, "kvshm-fault: %s injected\n", mode);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	const char *f = getenv("KVSHM_FAULT");

	if (f && strcmp(f, "fallocate") == 0) {
		injected(f);
		errno = EOPNOTSUPP;
		return -1;
	}
	return (int)syscall(SYS_fallocate, fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len);
}

static int on_shm(int fd)
{
	char link[64], target[256];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	return n > 9 && memcmp(target, "/dev/shm/", 9) == 0;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	const char *f = getenv("KVSHM_FAULT");

	if (f && strncmp(f, "shm-pwrite:", 11) == 0 && on_shm(fd) &&
	    __atomic_fetch_add(&shm_writes, 1, __ATOMIC_RELAXED) >=
	    atol(f + 11)) {
		injected(f);
		errno = EIO;
		return -1;
	}
	return syscall(SYS_pwrite64, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}
