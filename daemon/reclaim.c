// SPDX-License-Identifier: MIT
/*
 * daemon/reclaim.c - grace periods over the reader slots, and the retire
 * list they drain (see reclaim.h, shm/epoch.h).
 *
 * Locking: r->lock protects the retire list, batch counters and the slot
 * table (assigned/pid/revoked_epoch). The reclaim thread takes the whole
 * pending list as one batch, runs one grace period for it without the
 * lock, then frees it.
 *
 * Revocation: a slot that stays in one section for --reader-revoke-ms
 * while a grace period waits for it is revoked. kvshmd stores the
 * section's epoch in the slot's revoked word (release), and the full
 * fence that ends the grace period orders that store before every free
 * and reuse that follows; the reader checks the word at the end of each
 * section and reads again (shm/epoch.h). Grace periods skip the slot
 * while it is still in that section. Until every revoked slot has left
 * its section, the heap holds its pages (kva_hold()): freed item chunks
 * are only ever reused for items and array chunks for arrays, so what a
 * revoked reader may still read stays memory of the kind it expects.
 * Lock order: r->lock, then the allocator's.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "clock.h"
#include "epoch.h"
#include "log.h"
#include "reclaim.h"

#define BATCH_WAKE	1024	/* retirements that start a grace period now */
#define PERIOD_MS	5	/* otherwise, at most this late */
#define STALL_MS	1000	/* a reader this long in a section is stalled */
#define REVOKED_POLL_MS	100	/* idle: how often revoked slots are checked */

struct slot_info {
	bool assigned;
	pid_t pid;
	bool stall_logged;
	uint64_t revoked_epoch;		/* epoch of its revoked section, 0 if
					 * none */
};

struct kvd_reclaim {
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* reclaim thread waits here */
	pthread_cond_t done;		/* kvd_reclaim_sync() waits here */
	pthread_t thread;
	bool stop;
	bool membarrier;

	struct kvs_header *hdr;
	struct kvs_slot *slots;
	uint32_t nslots;
	struct kva *heap;
	kvs_off_t *pending;		/* offsets: the batch being collected */
	size_t npending, cap;
	uint64_t cur_batch;		/* number of the batch being collected */
	uint64_t done_batch;		/* all batches <= this are freed */
	uint64_t in_flight;		/* entries taken but not yet freed */
	bool sync_wanted;

	/* Under @lock: written by the reclaim thread and by slot
	 * assignment and release (server thread), read by stats. */
	struct slot_info *info;
	uint64_t slots_used;
	uint64_t grace_periods;
	uint64_t stalled;		/* slots stuck now */
	uint64_t stalls_total;		/* stalls seen since start */
	uint64_t revoked_now;		/* slots in a revoked section now;
					 * the heap is held while > 0 */
	uint64_t revocations;		/* since start */
	uint32_t revoke_ms;		/* 0: never revoke; const after init */
	uint64_t rel_hits, rel_misses;	/* counters of released slots */
	/* Written by the reclaim thread only, read by stats; no lock
	 * (relaxed atomics, hist.h). */
	struct kvd_hist gp_lat;
};

/* The process owning assigned slot @i is gone (r->lock held). */
static bool owner_dead(struct kvd_reclaim *r, uint32_t i)
{
	return r->info[i].assigned && kill(r->info[i].pid, 0) < 0 &&
	       errno == ESRCH;
}

/*
 * The owner of slot @i died in a section without its connection closing
 * (a forked child kept the socket): end the section for it (r->lock
 * held).
 */
static void end_dead_section(struct kvd_reclaim *r, uint32_t i)
{
	kvd_log(LOG_WARNING, "event=reader_dead slot=%u pid=%d", i,
		(int)r->info[i].pid);
	kvs_store_release(&r->slots[i].epoch, 0);
}

/* Slot @i leaves the revoked state (r->lock held). */
static void unrevoke_locked(struct kvd_reclaim *r, uint32_t i)
{
	if (!r->info[i].revoked_epoch)
		return;
	r->info[i].revoked_epoch = 0;
	if (--r->revoked_now == 0)
		kva_hold(r->heap, false);
}

/*
 * Slots that have left their revoked section (their epoch moved on: the
 * reader ended or renewed it) count as readers again, and once none is
 * left the heap's hold is lifted (r->lock held).
 */
static void unrevoke_moved(struct kvd_reclaim *r)
{
	uint32_t i;

	for (i = 0; i < r->nslots && r->revoked_now; i++) {
		if (!r->info[i].revoked_epoch)
			continue;
		if (owner_dead(r, i)) {
			end_dead_section(r, i);
			unrevoke_locked(r, i);
		} else if (kvs_load_acquire(&r->slots[i].epoch) !=
			   r->info[i].revoked_epoch) {
			kvd_log(LOG_INFO, "event=reader_resumed slot=%u "
				"revoked=yes", i);
			unrevoke_locked(r, i);
		}
	}
}

/*
 * Revoke slot @i, found in the section of epoch @e for @ms (r->lock
 * held). The grace period's closing fence orders the store before any
 * free that follows it.
 */
static void revoke_locked(struct kvd_reclaim *r, uint32_t i, uint64_t e,
			  int64_t ms)
{
	/* Revoked again before its move was seen (it renewed with an
	 * epoch older than the target, and stalled again): one count. */
	if (!r->info[i].revoked_epoch && r->revoked_now++ == 0)
		kva_hold(r->heap, true);
	/* No longer stalled: nothing waits for it now. */
	if (r->info[i].stall_logged) {
		r->info[i].stall_logged = false;
		r->stalled--;
	} else {
		r->stalls_total++;
	}
	r->info[i].revoked_epoch = e;
	r->revocations++;
	kvs_store_release(&r->slots[i].revoked, e);
	kvd_log(LOG_WARNING, "event=reader_revoked slot=%u pid=%d ms=%lld",
		i, (int)r->info[i].pid, (long long)ms);
}

/*
 * Wait until slot @i is quiescent or has entered at @target or later;
 * @revoked is its revoked section's epoch (0 if none) as the grace
 * period's scan saw it: a slot still in that section is not waited for.
 */
static void wait_slot(struct kvd_reclaim *r, uint32_t i, uint64_t target,
		      uint64_t revoked)
{
	struct kvs_slot *s = &r->slots[i];
	int64_t start = 0;
	unsigned int spins = 0;
	uint64_t e;

	while ((e = kvs_load_acquire(&s->epoch)) != 0 && e < target) {
		if (e == revoked)
			return;		/* still in its revoked section */
		if (++spins < 1000) {
			kvs_cpu_relax();
			continue;
		}
		if (!start)
			start = kvs_mono_ms();
		usleep(spins < 2000 ? 50 : 1000);
		if (kvs_mono_ms() - start < STALL_MS &&
		    (!r->revoke_ms || kvs_mono_ms() - start < r->revoke_ms))
			continue;
		pthread_mutex_lock(&r->lock);
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			return;
		}
		if (owner_dead(r, i)) {
			end_dead_section(r, i);
		} else if (r->info[i].assigned && r->revoke_ms &&
			   r->info[i].pid != getpid() &&
			   kvs_mono_ms() - start >= r->revoke_ms &&
			   kvs_load_acquire(&s->epoch) == e) {
			/* Never kvshmd's own slots (the snapshot writer's
			 * section): nothing of kvshmd checks for it. */
			revoke_locked(r, i, e, kvs_mono_ms() - start);
			pthread_mutex_unlock(&r->lock);
			return;
		} else if (kvs_mono_ms() - start >= STALL_MS &&
			   !r->info[i].stall_logged) {
			r->info[i].stall_logged = true;
			r->stalled++;
			r->stalls_total++;
			kvd_log(LOG_WARNING,
				"event=reader_stalled slot=%u pid=%d ms=%lld",
				i, (int)r->info[i].pid,
				(long long)(kvs_mono_ms() - start));
		}
		pthread_mutex_unlock(&r->lock);
	}
	if (start) {
		pthread_mutex_lock(&r->lock);
		if (r->info[i].stall_logged) {
			r->info[i].stall_logged = false;
			r->stalled--;
			kvd_log(LOG_INFO, "event=reader_resumed slot=%u", i);
		}
		pthread_mutex_unlock(&r->lock);
	}
}

/*
 * One grace period: publish a new epoch, make every reader's epoch store
 * visible (membarrier or fence), then wait for each assigned slot to be
 * quiescent (0) or to have entered after the new epoch.
 */
static void grace_period(struct kvd_reclaim *r)
{
	uint64_t target = kvs_load_relaxed(&r->hdr->global_epoch) + 1;
	struct { uint32_t slot; uint64_t revoked; } *active;
	uint32_t n = 0, i;

	kvs_store_release(&r->hdr->global_epoch, target);
	if (r->membarrier) {
		int rc = kvs_membarrier_global();

		if (rc)
			kvd_die("event=membarrier_failed errno=%d", -rc);
	} else {
		kvs_smp_mb();
	}
	active = malloc(sizeof(*active) * r->nslots);
	pthread_mutex_lock(&r->lock);
	unrevoke_moved(r);
	for (i = 0; i < r->nslots; i++) {
		if (!r->info[i].assigned)
			continue;
		if (active) {
			active[n].slot = i;
			active[n++].revoked = r->info[i].revoked_epoch;
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (!active) {		/* out of memory: check every slot */
		for (i = 0; i < r->nslots; i++) {
			uint64_t revoked;

			pthread_mutex_lock(&r->lock);
			revoked = r->info[i].revoked_epoch;
			pthread_mutex_unlock(&r->lock);
			wait_slot(r, i, target, revoked);
		}
	} else {
		for (i = 0; i < n; i++)
			wait_slot(r, active[i].slot, target, active[i].revoked);
		free(active);
	}
	kvs_smp_mb();		/* slot loads before the frees that follow */
}

/* Wait on r->wake for at most @ms (r->lock held). */
static void timed_wait(struct kvd_reclaim *r, long ms)
{
	struct timespec ts = kvs_deadline(CLOCK_REALTIME, ms);

	pthread_cond_timedwait(&r->wake, &r->lock, &ts);
}

static void *reclaim_main(void *arg)
{
	struct kvd_reclaim *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		kvs_off_t *batch;
		size_t n, i;
		uint64_t no;
		int64_t t0;

		while (!r->stop && r->npending == 0) {
			if (!r->revoked_now) {
				pthread_cond_wait(&r->wake, &r->lock);
				continue;
			}
			/* Watch revoked slots for their readers' return. */
			timed_wait(r, REVOKED_POLL_MS);
			unrevoke_moved(r);
		}
		if (r->stop)
			break;
		if (r->npending < BATCH_WAKE && !r->sync_wanted) {
			timed_wait(r, PERIOD_MS);
			if (r->stop)
				break;
		}
		batch = r->pending;
		n = r->npending;
		no = r->cur_batch++;
		r->pending = NULL;
		r->npending = r->cap = 0;
		r->in_flight = n;
		r->sync_wanted = false;
		pthread_mutex_unlock(&r->lock);

		t0 = kvd_mono_us();
		grace_period(r);
		kvd_hist_add(&r->gp_lat, (uint64_t)(kvd_mono_us() - t0));
		for (i = 0; i < n; i++)
			kva_free(r->heap, batch[i]);
		free(batch);

		pthread_mutex_lock(&r->lock);
		r->grace_periods++;
		r->in_flight = 0;
		r->done_batch = no;
		pthread_cond_broadcast(&r->done);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int kvd_reclaim_init(struct kvd_reclaim **rp, struct kvs_header *hdr,
		     struct kvs_slot *slots, uint32_t nslots,
		     struct kva *heap, bool membarrier, uint32_t revoke_ms)
{
	struct kvd_reclaim *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->info = calloc(nslots, sizeof(*r->info));
	if (!r->info) {
		free(r);
		return -ENOMEM;
	}
	r->hdr = hdr;
	r->slots = slots;
	r->nslots = nslots;
	r->heap = heap;
	r->membarrier = membarrier;
	r->revoke_ms = revoke_ms;
	r->cur_batch = 1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	pthread_cond_init(&r->done, NULL);
	rc = pthread_create(&r->thread, NULL, reclaim_main, r);
	if (rc) {
		free(r->info);
		free(r);
		return -rc;
	}
	*rp = r;
	return 0;
}

void kvd_reclaim_destroy(struct kvd_reclaim *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	/*
	 * What is still pending is not freed: kva_free() writes a free-list
	 * link into the chunk, and readers of the abandoned segment may still
	 * be inside it. The segment goes away with its last mapping.
	 */
	free(r->pending);
	free(r->info);
	pthread_cond_destroy(&r->done);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void kvd_retire(struct kvd_reclaim *r, kvs_off_t off)
{
	pthread_mutex_lock(&r->lock);
	if (r->npending == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		kvs_off_t *p = realloc(r->pending, cap * sizeof(*p));

		if (!p)		/* cannot defer it safely: wait for readers */
			kvd_die("event=retire_oom pending=%zu", r->npending);
		r->pending = p;
		r->cap = cap;
	}
	r->pending[r->npending++] = off;
	if (r->npending == 1 || r->npending == BATCH_WAKE)
		pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

int kvd_reclaim_sync(struct kvd_reclaim *r, int timeout_ms)
{
	struct timespec ts = kvs_deadline(CLOCK_REALTIME, timeout_ms);
	uint64_t want;
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	/* Everything retired so far is in the collecting batch or in flight. */
	want = r->npending ? r->cur_batch : r->cur_batch - 1;
	if (r->npending) {
		r->sync_wanted = true;
		pthread_cond_signal(&r->wake);
	}
	while (r->done_batch < want && !r->stop && rc == 0)
		rc = pthread_cond_timedwait(&r->done, &r->lock, &ts);
	pthread_mutex_unlock(&r->lock);
	return rc == ETIMEDOUT ? -ETIMEDOUT : 0;
}

uint64_t kvd_reclaim_stalled(struct kvd_reclaim *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->lock);
	n = r->stalled;
	pthread_mutex_unlock(&r->lock);
	return n;
}

unsigned int kvd_slot_state(struct kvd_reclaim *r, uint32_t idx)
{
	unsigned int st = 0;

	pthread_mutex_lock(&r->lock);
	if (idx < r->nslots) {
		if (r->info[idx].stall_logged)
			st |= KVD_SLOT_STALLED;
		if (r->info[idx].revoked_epoch)
			st |= KVD_SLOT_REVOKED;
	}
	pthread_mutex_unlock(&r->lock);
	return st;
}

uint64_t kvd_reclaim_revoked(struct kvd_reclaim *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->lock);
	n = r->revoked_now;
	pthread_mutex_unlock(&r->lock);
	return n;
}

int kvd_slot_assign(struct kvd_reclaim *r, pid_t pid, uint32_t *idx)
{
	uint32_t i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->nslots; i++) {
		if (r->info[i].assigned)
			continue;
		r->info[i].assigned = true;
		r->info[i].pid = pid;
		r->info[i].stall_logged = false;
		r->slots_used++;
		kvs_store_relaxed(&r->slots[i].owner_pid, (uint32_t)pid);
		kvs_store_relaxed(&r->slots[i].revoked, 0);
		kvs_store_release(&r->slots[i].epoch, 0);
		pthread_mutex_unlock(&r->lock);
		*idx = i;
		return 0;
	}
	pthread_mutex_unlock(&r->lock);
	return -ENOSPC;
}

void kvd_slot_release(struct kvd_reclaim *r, uint32_t i)
{
	struct kvs_slot *s;

	pthread_mutex_lock(&r->lock);
	if (i < r->nslots && r->info[i].assigned) {
		s = &r->slots[i];
		r->rel_hits += kvs_load_relaxed(&s->hits);
		r->rel_misses += kvs_load_relaxed(&s->misses);
		kvs_store_relaxed(&s->hits, 0);
		kvs_store_relaxed(&s->misses, 0);
		kvs_store_relaxed(&s->owner_pid, 0);
		kvs_store_release(&s->epoch, 0);
		unrevoke_locked(r, i);
		if (r->info[i].stall_logged)
			r->stalled--;
		memset(&r->info[i], 0, sizeof(r->info[i]));
		r->slots_used--;
	}
	pthread_mutex_unlock(&r->lock);
}

void kvd_reclaim_get_stats(struct kvd_reclaim *r, struct kvd_reclaim_stats *st)
{
	uint32_t i;

	pthread_mutex_lock(&r->lock);
	st->grace_periods = r->grace_periods;
	st->retired_pending = r->npending + r->in_flight;
	st->slots_used = r->slots_used;
	st->stalled_readers = r->stalled;
	st->stalls_total = r->stalls_total;
	st->revoked_readers = r->revoked_now;
	st->revocations = r->revocations;
	st->hits = r->rel_hits;
	st->misses = r->rel_misses;
	for (i = 0; i < r->nslots; i++) {
		if (!r->info[i].assigned)
			continue;
		st->hits += kvs_load_relaxed(&r->slots[i].hits);
		st->misses += kvs_load_relaxed(&r->slots[i].misses);
	}
	st->gets = st->hits + st->misses;
	pthread_mutex_unlock(&r->lock);
	kvd_hist_read(&r->gp_lat, &st->gp);
}
