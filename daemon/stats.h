/* SPDX-License-Identifier: MIT */
/*
 * daemon/stats.h - kvshmd's counters and the STATS text. Counters are
 * bumped from the event hooks and the server; relaxed atomics, since
 * several daemon threads may bump them and readers only want a recent sum.
 */
#ifndef KVD_STATS_H
#define KVD_STATS_H

#include <stdint.h>

#include "hooks.h"

struct kvd;

struct kvd_stats {
	uint64_t cmd_set, cmd_del, cmd_incr, cmd_expire, cmd_persist, cmd_mset;
	uint64_t cmd_append, cmd_getdel, cmd_getset, cmd_flush, cmd_mdel;
	uint64_t cmd_cas, cmd_casdel, cmd_batch;
	uint64_t ev[KVD_EV_NR];
	uint64_t connections;		/* open now */
	uint64_t connections_total;
};

void kvd_stats_attach(struct kvd_stats *st, struct kvd_hooks *hs);
void kvd_stats_inc(uint64_t *counter);
void kvd_stats_dec(uint64_t *counter);

/* Text for KVS_OP_STATS: "name value\n" lines; malloc()ed, NULL on OOM. */
char *kvd_stats_text(struct kvd *d, size_t *len);

#endif /* KVD_STATS_H */
