// SPDX-License-Identifier: MIT
/*
 * daemon/stats.c - kvshmd's counters (fed by the event hooks) and the text
 * of the STATS reply. The names printed here are a public interface
 * (kvshmctl stats, its --json form, the man pages): add, never rename.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "atomic.h"
#include "clock.h"
#include "frame.h"
#include "kvshmd.h"
#include "snapshot.h"

void kvd_stats_inc(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

void kvd_stats_dec(uint64_t *counter)
{
	__atomic_fetch_sub(counter, 1, __ATOMIC_RELAXED);
}

static void on_event(const struct kvd_event_info *ev, void *arg)
{
	struct kvd_stats *st = arg;

	kvd_stats_inc(&st->ev[ev->ev]);
}

void kvd_stats_attach(struct kvd_stats *st, struct kvd_hooks *hs)
{
	kvd_hook_add(hs, on_event, st);
}

struct text {
	char *p;
	size_t len, cap;
	int err;
};

static void add(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	if (t->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->err = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap * 2 + (size_t)n;
		p = realloc(t->p, t->cap);

		if (!p) {
			t->err = 1;
			return;
		}
		t->p = p;
	}
}

static uint64_t rd(const uint64_t *c)
{
	return kvs_load_relaxed(c);
}

/*
 * A histogram as NAME_le_BOUND lines (cumulative, bounds in microseconds,
 * the last NAME_le_inf: every sample), then NAME_sum and NAME_max.
 */
static void add_hist(struct text *t, const char *name,
		     const struct kvd_hist_snap *h)
{
	unsigned int b;

	for (b = 0; b < KVD_HIST_BOUNDS; b++)
		add(t, "%s_le_%" PRIu64 " %" PRIu64 "\n", name,
		    kvd_hist_le_us[b], h->le[b]);
	add(t, "%s_le_inf %" PRIu64 "\n", name, h->count);
	add(t, "%s_sum %" PRIu64 "\n", name, h->sum_us);
	add(t, "%s_max %" PRIu64 "\n", name, h->max_us);
}

/*
 * The heap: totals, fragmentation, and each size class that holds pages.
 * Fragmentation counts the bytes of pages given to size classes that hold
 * no chunk in use (free chunks, and the tail a page's chunks leave);
 * large runs are used whole, so they have none.
 */
static void add_memory(struct text *t, struct kvd *d)
{
	struct kva_class_stats cs[KVA_NCLASSES_MAX];
	struct kva_stats as;
	uint64_t paged, small_used, frag;
	unsigned int i, n;

	kva_get_stats(d->heap, &as);
	n = kva_get_classes(d->heap, cs, KVA_NCLASSES_MAX);
	if (n > KVA_NCLASSES_MAX)
		n = KVA_NCLASSES_MAX;
	paged = (as.pages_total - as.pages_free - as.pages_large) *
		KVA_PAGE_SIZE;
	small_used = as.used - as.pages_large * KVA_PAGE_SIZE;
	frag = paged > small_used ? paged - small_used : 0;
	add(t, "memory_used %" PRIu64 "\n", as.used);
	add(t, "memory_limit %" PRIu64 "\n", as.limit);
	add(t, "memory_pages_free %" PRIu64 "\n", as.pages_free);
	add(t, "memory_pages_held %" PRIu64 "\n", as.pages_held);
	add(t, "memory_free %" PRIu64 "\n", as.limit - as.used);
	add(t, "memory_page_size %u\n", KVA_PAGE_SIZE);
	add(t, "memory_pages_total %" PRIu64 "\n", as.pages_total);
	add(t, "memory_pages_large %" PRIu64 "\n", as.pages_large);
	add(t, "memory_pages_classes %" PRIu64 "\n", paged / KVA_PAGE_SIZE);
	add(t, "memory_fragmented %" PRIu64 "\n", frag);
	add(t, "memory_fragmentation_pct %" PRIu64 "\n",
	    paged ? frag * 100 / paged : 0);
	for (i = 0; i < n; i++) {
		add(t, "memory_class_%u_pages %u\n", cs[i].size, cs[i].pages);
		add(t, "memory_class_%u_chunks %" PRIu64 "\n", cs[i].size,
		    cs[i].chunks);
		add(t, "memory_class_%u_capacity %" PRIu64 "\n", cs[i].size,
		    cs[i].capacity);
		add(t, "memory_class_%u_used %" PRIu64 "\n", cs[i].size,
		    cs[i].chunks * cs[i].size);
	}
}

/* Admin requests, counted by the server as frames arrive. */
static const struct {
	uint16_t op;
	const char *name;
} admin_ops[] = {
	{ KVS_OP_PING, "cmd_ping" },
	{ KVS_OP_SLOT, "cmd_slot" },
	{ KVS_OP_STATS, "cmd_stats" },
	{ KVS_OP_SNAPSHOT, "cmd_snapshot" },
	{ KVS_OP_CONFIG_GET, "cmd_config_get" },
	{ KVS_OP_CONFIG_SET, "cmd_config_set" },
	{ KVS_OP_CLIENTS, "cmd_clients" },
};
_Static_assert(KVS_OP_CLIENTS < KVD_STATS_OPS, "admin ops are counted");

/* The expiry sweep's and the evictor's counters. */
static void add_housekeeping(struct text *t, struct kvd *d)
{
	struct kvd_expiry_stats xs;
	struct kvd_evict_stats es;
	int p;

	if (d->ex) {
		kvd_expiry_get_stats(d->ex, &xs);
		add(t, "expiry_index_entries %" PRIu64 "\n", xs.entries);
		add(t, "expiry_examined %" PRIu64 "\n", xs.examined);
		add(t, "expiry_stale %" PRIu64 "\n", xs.stale);
		add(t, "expiry_swept %" PRIu64 "\n", xs.removed);
		add(t, "expiry_compacted %" PRIu64 "\n", xs.compacted);
		add(t, "expiry_sweeps %" PRIu64 "\n", xs.sweeps);
		add(t, "expiry_lag_p99_ms %" PRIu64 "\n", xs.lag_p99_ms);
		add(t, "expiry_lag_max_ms %" PRIu64 "\n", xs.lag_max_ms);
	}
	if (d->ev) {
		kvd_evict_get_stats(d->ev, &es);
		add(t, "eviction_policy %s\n",
		    kvd_policy_name(kvd_evict_policy(d->ev)));
		add(t, "eviction_samples %u\n", kvd_evict_samples(d->ev));
		add(t, "eviction_watermark %u\n", kvd_evict_watermark(d->ev));
		for (p = 1; p < KVD_POLICY_NR; p++) {
			char name[64];
			size_t i;

			/* evictions_volatile_ttl: names are [a-z0-9_] */
			snprintf(name, sizeof(name), "evictions_%s",
				 kvd_policy_name(p));
			for (i = 0; name[i]; i++)
				if (name[i] == '-')
					name[i] = '_';
			add(t, "%s %" PRIu64 "\n", name, es.by_policy[p]);
		}
		add(t, "evictions_sync %" PRIu64 "\n", es.sync);
		add(t, "evictions_background %" PRIu64 "\n", es.background);
		add(t, "eviction_expired %" PRIu64 "\n", es.expired);
		add(t, "eviction_sampled %" PRIu64 "\n", es.sampled);
		add(t, "eviction_failed %" PRIu64 "\n", es.failed);
		add(t, "eviction_sieve_queue %" PRIu64 "\n", es.sieve_queue);
	}
}

char *kvd_stats_text(struct kvd *d, size_t *len)
{
	struct kvd_reclaim_stats rs;
	struct text t = { .cap = 8192 };
	const struct kvd_stats *st = &d->stats;
	size_t i;

	t.p = malloc(t.cap);
	if (!t.p)
		return NULL;
	t.p[0] = '\0';
	kvd_reclaim_get_stats(d->rc, &rs);
	add(&t, "pid %d\n", (int)getpid());
	add(&t, "version %s\n", KVD_VERSION);
	add(&t, "uptime_s %" PRId64 "\n",
	    (kvs_mono_ms() - d->start_mono_ms) / 1000);
	add(&t, "name %s\n", d->cfg.name);
	add(&t, "layout_version %u\n", (unsigned)KVS_LAYOUT_VERSION);
	add(&t, "generation %" PRIu64 "\n", d->hdr->generation);
	add(&t, "shards %u\n", d->hdr->nshards);
	add(&t, "keys %" PRIu64 "\n", kvd_index_count(&d->index));
	add_memory(&t, d);
	add(&t, "max_key %u\n", d->cfg.max_key);
	add(&t, "max_value %u\n", d->cfg.max_value);
	add(&t, "max_entries %" PRIu64 "\n", d->cfg.max_entries);
	add(&t, "reader_slots %u\n", d->cfg.max_readers);
	add(&t, "reader_slots_per_client %u\n", d->cfg.max_readers_per_client);
	add(&t, "hint_words %" PRIu64 "\n", d->hdr->nhints);
	add(&t, "hint_words_used %" PRIu64 "\n", kvd_index_entries_total(&d->index));
	add(&t, "hints_by_readers %u\n",
	    kvs_load_relaxed(&d->hdr->hint_mode));	/* KVS_HINTS_* */
	add(&t, "reader_slots_used %" PRIu64 "\n", rs.slots_used);
	add(&t, "readers_stalled %" PRIu64 "\n", rs.stalled_readers);
	add(&t, "readers_stalled_total %" PRIu64 "\n", rs.stalls_total);
	add(&t, "readers_revoked %" PRIu64 "\n", rs.revoked_readers);
	add(&t, "readers_revoked_total %" PRIu64 "\n", rs.revocations);
	add(&t, "membarrier %s\n", d->membarrier ? "expedited" : "fenced");
	add(&t, "connections %" PRIu64 "\n", rd(&st->connections));
	add(&t, "connections_total %" PRIu64 "\n", rd(&st->connections_total));
	add(&t, "connections_orphaned %" PRIu64 "\n", rd(&st->orphans));
	add(&t, "gets %" PRIu64 "\n", rs.gets);
	add(&t, "hits %" PRIu64 "\n", rs.hits);
	add(&t, "misses %" PRIu64 "\n", rs.misses);
	add(&t, "cmd_set %" PRIu64 "\n", rd(&st->cmd_set));
	add(&t, "cmd_del %" PRIu64 "\n", rd(&st->cmd_del));
	add(&t, "cmd_incr %" PRIu64 "\n", rd(&st->cmd_incr));
	add(&t, "cmd_expire %" PRIu64 "\n", rd(&st->cmd_expire));
	add(&t, "cmd_persist %" PRIu64 "\n", rd(&st->cmd_persist));
	add(&t, "cmd_mset %" PRIu64 "\n", rd(&st->cmd_mset));
	add(&t, "cmd_append %" PRIu64 "\n", rd(&st->cmd_append));
	add(&t, "cmd_getdel %" PRIu64 "\n", rd(&st->cmd_getdel));
	add(&t, "cmd_getset %" PRIu64 "\n", rd(&st->cmd_getset));
	add(&t, "cmd_flush %" PRIu64 "\n", rd(&st->cmd_flush));
	add(&t, "cmd_mdel %" PRIu64 "\n", rd(&st->cmd_mdel));
	add(&t, "cmd_cas %" PRIu64 "\n", rd(&st->cmd_cas));
	add(&t, "cmd_casdel %" PRIu64 "\n", rd(&st->cmd_casdel));
	add(&t, "cmd_batch %" PRIu64 "\n", rd(&st->cmd_batch));
	for (i = 0; i < sizeof(admin_ops) / sizeof(admin_ops[0]); i++)
		add(&t, "%s %" PRIu64 "\n", admin_ops[i].name,
		    rd(&st->req_op[admin_ops[i].op]));
	add(&t, "requests %" PRIu64 "\n", rd(&st->requests));
	add(&t, "evictions %" PRIu64 "\n", rd(&st->ev[KVD_EV_EVICT]));
	add(&t, "expirations %" PRIu64 "\n", rd(&st->ev[KVD_EV_EXPIRE]));
	add(&t, "expirations_write %" PRIu64 "\n", rd(&st->expired_write));
	add(&t, "grace_periods %" PRIu64 "\n", rs.grace_periods);
	add_hist(&t, "grace_period_us", &rs.gp);
	add(&t, "retired_pending %" PRIu64 "\n", rs.retired_pending);
	add_housekeeping(&t, d);
	add(&t, "persistence %s\n", d->cfg.persistence == KVD_PERSIST_WAL ? "wal" :
	    d->cfg.persistence == KVD_PERSIST_SNAPSHOT ? "snapshot" : "none");
	if (d->wal) {
		struct kvd_wal_stats ws;

		kvd_wal_get_stats(d->wal, &ws);
		add(&t, "wal_fsync %s\n", kvd_fsync_name(ws.policy));
		add(&t, "wal_lsn %" PRIu64 "\n", ws.lsn);
		add(&t, "wal_written_lsn %" PRIu64 "\n", ws.written_lsn);
		add(&t, "wal_synced_lsn %" PRIu64 "\n", ws.synced_lsn);
		add(&t, "wal_bytes %" PRIu64 "\n", ws.bytes);
		add(&t, "wal_records %" PRIu64 "\n", ws.records);
		add(&t, "wal_commits %" PRIu64 "\n", ws.commits);
		add(&t, "wal_fsyncs %" PRIu64 "\n", ws.fsync.count);
		add(&t, "wal_fsync_us_avg %" PRIu64 "\n",
		    ws.fsync.count ? ws.fsync.sum_us / ws.fsync.count : 0);
		add_hist(&t, "wal_fsync_us", &ws.fsync);
		add(&t, "wal_segments %" PRIu64 "\n", ws.segments);
	}
	if (d->snap) {
		struct kvd_snap_stats ss;

		kvd_snap_get_stats(d->snap, &ss);
		add(&t, "snapshots %" PRIu64 "\n", ss.count);
		add(&t, "snapshots_failed %" PRIu64 "\n", ss.failed);
		add(&t, "snapshot_in_progress %" PRIu64 "\n", ss.in_progress);
		add(&t, "snapshot_last_lsn %" PRIu64 "\n", ss.last_lsn);
		add(&t, "snapshot_last_time_ms %" PRId64 "\n", ss.last_created_ms);
		add(&t, "snapshot_last_duration_ms %" PRIu64 "\n",
		    ss.last_duration_ms);
		add(&t, "snapshot_last_bytes %" PRIu64 "\n", ss.last_bytes);
		add(&t, "snapshot_last_keys %" PRIu64 "\n", ss.last_items);
	}
	if (t.err) {
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}
