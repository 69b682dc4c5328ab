/* SPDX-License-Identifier: MIT */
/*
 * daemon/stats.h - kvshmd's own counters and the STATS text.
 *
 * The counters here are the daemon-wide ones; each module keeps its own
 * (alloc, reclaim, wal, snapshot, expiry, evict) behind a *_get_stats()
 * call, and kvd_stats_text() gathers them all. Every field below says who
 * writes it. All are read by kvd_stats_text() on the server thread with
 * relaxed loads: a STATS reply is a recent sum, not a snapshot, and two
 * related counters may be one event apart.
 */
#ifndef KVD_STATS_H
#define KVD_STATS_H

#include <stdint.h>

#include "hooks.h"

struct kvd;

#define KVD_STATS_OPS	64	/* frame ops counted one by one (op < 64) */

struct kvd_stats {
	/*
	 * Write requests executed, one per request whatever its keys, and
	 * whether it succeeded or not: exec, on the thread that runs the op
	 * (relaxed atomic add, kvd_stats_inc()).
	 */
	uint64_t cmd_set, cmd_del, cmd_incr, cmd_expire, cmd_persist, cmd_mset;
	uint64_t cmd_append, cmd_getdel, cmd_getset, cmd_flush, cmd_mdel;
	uint64_t cmd_cas, cmd_casdel, cmd_batch;
	/* Table events: the stats hook, on the thread that emits the event,
	 * under the key's shard lock (relaxed atomic add). */
	uint64_t ev[KVD_EV_NR];
	/* Expired keys removed by a write that met them: exec, under the
	 * shard lock (relaxed atomic add). The sweep and the evictor count
	 * the ones they remove in their own stats. */
	uint64_t expired_write;
	/* Server thread only (single writer; kvd_stats_inc() all the same,
	 * since it costs nothing measurable per frame). */
	uint64_t connections;		/* open now */
	uint64_t connections_total;
	uint64_t orphans;		/* closed without BYE, process alive,
					 * reader slots kept */
	uint64_t requests;		/* frames received, any op */
	uint64_t req_op[KVD_STATS_OPS];	/* frames received, by op */
};

void kvd_stats_attach(struct kvd_stats *st, struct kvd_hooks *hs);
void kvd_stats_inc(uint64_t *counter);
void kvd_stats_dec(uint64_t *counter);

/* Text for KVS_OP_STATS: "name value\n" lines; malloc()ed, NULL on OOM. */
char *kvd_stats_text(struct kvd *d, size_t *len);

#endif /* KVD_STATS_H */
