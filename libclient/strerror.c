// SPDX-License-Identifier: MIT
/*
 * libclient/strerror.c - messages for the KVSHM_E* codes, and the mapping
 * of the daemon's -errno statuses onto them. The table cannot drift from
 * the enum: the _Static_assert counts it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static const char *const kvshm_msgs[] = {
	[-1000 - KVSHM_ENOTFOUND] = "key not found or expired",
	[-1000 - KVSHM_EEXISTS]	  = "key already exists",
	[-1000 - KVSHM_ETOOSMALL] = "buffer too small for the value",
	[-1000 - KVSHM_EINVAL]	  = "invalid argument",
	[-1000 - KVSHM_ESYS]	  = "system call failed",
	[-1000 - KVSHM_ETOOBIG]	  = "key or value exceeds the daemon's limit",
	[-1000 - KVSHM_ENOMEM]	  = "cache is full",
	[-1000 - KVSHM_ENOTINT]	  = "value is not a decimal 64-bit integer",
	[-1000 - KVSHM_EOVERFLOW] = "increment would overflow a 64-bit integer",
	[-1000 - KVSHM_EPERM]	  = "permission denied",
	[-1000 - KVSHM_EDAEMON]	  = "daemon not running or not answering",
	[-1000 - KVSHM_EVERSION]  = "segment layout differs from this library",
	[-1000 - KVSHM_EPROTO]	  = "protocol error on the write channel",
	[-1000 - KVSHM_ECHANGED]  = "key changed: its version is not the one expected",
	[-1000 - KVSHM_EREVOKED]  = "read section revoked by the daemon: views may be stale",
};
_Static_assert(sizeof(kvshm_msgs) / sizeof(kvshm_msgs[0]) == -1000 - KVSHM_E_LAST,
	       "one message per KVSHM_E* code");

const char *kvshm_strerror(int code)
{
	if (code == KVSHM_OK)
		return "success";
	if (code <= KVSHM_ENOTFOUND && code > KVSHM_E_LAST)
		return kvshm_msgs[-1000 - code];
	return "unknown kvshm error";
}

int kvc_errno_to_code(int neg_errno)
{
	switch (-neg_errno) {
	case 0:		 return KVSHM_OK;
	case ENOENT:	 return KVSHM_ENOTFOUND;
	case EEXIST:	 return KVSHM_EEXISTS;
	case E2BIG:
	case EMSGSIZE:	 return KVSHM_ETOOBIG;
	case ENOMEM:	 return KVSHM_ENOMEM;
	case EDOM:	 return KVSHM_ENOTINT;
	case EOVERFLOW:	 return KVSHM_EOVERFLOW;
	case EPERM:
	case EACCES:	 return KVSHM_EPERM;
	case EINVAL:	 return KVSHM_EINVAL;
	case EPROTO:	 return KVSHM_EPROTO;
	case ESTALE:	 return KVSHM_ECHANGED;
	default:
		errno = -neg_errno;
		return KVSHM_ESYS;
	}
}

/* Silent unless KVSHM_DEBUG=1, as the library must be. */
void kvc_debug(const char *func, const char *fmt, ...)
{
	const char *env = getenv("KVSHM_DEBUG");
	va_list ap;
	int e = errno;

	if (!env || strcmp(env, "1") != 0)
		return;
	fprintf(stderr, "[%d/%ld] %s() ", (int)getpid(), (long)syscall(SYS_gettid),
		func);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	errno = e;
}
