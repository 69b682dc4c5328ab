// SPDX-License-Identifier: MIT
/*
 * shm/epoch.c - membarrier(2) wrappers for the cross-process RCU of
 * shm/epoch.h. glibc has no wrapper, so these call syscall(2).
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "epoch.h"

static int membarrier(int cmd)
{
#ifdef __NR_membarrier
	return (int)syscall(__NR_membarrier, cmd, 0, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* 1 if the kernel offers global expedited membarrier, 0 if not. */
int kvs_membarrier_query(void)
{
	int mask = membarrier(MEMBARRIER_CMD_QUERY);

	if (mask < 0)
		return 0;
	return (mask & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	       (mask & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
}

/* A reading process registers once; 0 or -errno. */
int kvs_membarrier_register(void)
{
	if (membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) < 0)
		return -errno;
	return 0;
}

/* kvshmd, once per grace period; 0 or -errno. */
int kvs_membarrier_global(void)
{
	if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) < 0)
		return -errno;
	return 0;
}
