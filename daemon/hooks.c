// SPDX-License-Identifier: MIT
/*
 * daemon/hooks.c - the event hook table (see hooks.h). Fixed at start-up,
 * read-only afterwards, so emitting needs no lock.
 */
#include <errno.h>

#include "hooks.h"

int kvd_hook_add(struct kvd_hooks *hs, kvd_hook_fn fn, void *arg)
{
	if (hs->n == KVD_MAX_HOOKS)
		return -ENOSPC;
	hs->h[hs->n].fn = fn;
	hs->h[hs->n].arg = arg;
	hs->n++;
	return 0;
}

void kvd_hooks_emit(const struct kvd_hooks *hs, const struct kvd_event_info *ev)
{
	unsigned int i;

	for (i = 0; i < hs->n; i++)
		hs->h[i].fn(ev, hs->h[i].arg);
}
