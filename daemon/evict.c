// SPDX-License-Identifier: MIT
/*
 * daemon/evict.c - eviction policies, the evictor thread and the
 * synchronous eviction of writes that find no room (see evict.h).
 *
 * How victims are chosen:
 *  - lru, lfu, random and their volatile- variants sample (Redis's
 *    approximation): each eviction reads @samples keys from a random
 *    place of the table (volatile-*: random entries of the expiry index,
 *    so keys with a TTL are found even when they are rare), scores them
 *    from their access-hint words (shm/hint.h), and keeps the best
 *    POOL_SIZE candidates seen so far in a pool; the best of the pool
 *    that is still live goes. With @samples at least the number of keys
 *    the choice is exact.
 *    lru scores the idle time (64 ms resolution: the readers' hint
 *    clock), ties broken by the lower counter; lfu the log counter
 *    decayed by one per idle minute (LFU_DECAY_TICKS), ties broken by
 *    idle time.
 *  - volatile-ttl takes the soonest expiry, exactly, from the per-shard
 *    expiry heaps (expiry.c).
 *  - sieve is SIEVE (Zhang et al., NSDI '24) on the readers' visited bit:
 *    a queue of keys in insertion order, a hand moving from the oldest to
 *    the newest; a key the hand finds visited loses the bit and stays
 *    where it is, the first unvisited key is evicted. New keys that are
 *    never read leave quickly, keys read since the hand last passed
 *    stay, and hits cost the daemon nothing (readers set the bit). The
 *    queue is daemon-private and names a key by where it sits (its shard
 *    and entry number, whose hint word the hand reads); it is built when
 *    the policy is chosen, kept from the hook events, and renamed when a
 *    shard grows (the index's rehash callback); an array with holes,
 *    compacted when half empty.
 *  - an expired key met while choosing is removed as an expiry first.
 *
 * Threads and locks. Eviction runs on the server thread (synchronous,
 * for a write, holding no shard lock: exec retries the write afterwards)
 * and on the evictor thread (background). Lock order:
 *	ev->lock  ->  one shard lock  ->  sv.lock
 * ev->lock serialises evictions, the pool, the settings and the policy
 * switch; a shard lock is taken for reading candidates and removing
 * victims, one at a time; sv.lock guards the SIEVE queue and is taken by
 * the hook under the shard lock of the key concerned. Readers never
 * wait: a victim is removed with kvd_exec_remove() (one release store),
 * and its memory is freed after a grace period (reclaim.c), so a reader
 * that found the item before its removal finishes its copy safely.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic.h"
#include "clock.h"
#include "hash.h"
#include "hint.h"
#include "kvshmd.h"
#include "log.h"

#define POOL_SIZE	16
/* One counter step per idle minute, as Redis. */
#define LFU_DECAY_TICKS	(60000 / KVS_HINT_TICK_MS)
#define SAMPLE_SHARDS	64	/* shards tried to fill one sample */
#define PICK_TRIES	64	/* stale candidates skipped per eviction */
#define BG_PERIOD_MS	100	/* evictor checks the watermark this often */
#define BG_BATCH	256	/* victims between waits for their memory */
#define SYNC_WAIT_MS	200	/* a write waits this long for evicted memory */
#define PAGES_MAX	64	/* whole pages one write may have evicted */
#define PAGE_TRIES	16	/* sparse pages tried for one with items */

static const char *const policy_names[KVD_POLICY_NR] = {
	[KVD_POLICY_NOEVICTION] = "noeviction",
	[KVD_POLICY_LRU] = "lru",
	[KVD_POLICY_LFU] = "lfu",
	[KVD_POLICY_RANDOM] = "random",
	[KVD_POLICY_VOLATILE_TTL] = "volatile-ttl",
	[KVD_POLICY_VOLATILE_LRU] = "volatile-lru",
	[KVD_POLICY_VOLATILE_LFU] = "volatile-lfu",
	[KVD_POLICY_VOLATILE_RANDOM] = "volatile-random",
	[KVD_POLICY_SIEVE] = "sieve",
};

struct cand {
	uint64_t score;		/* higher: evict sooner */
	uint64_t hash;
	kvs_off_t off;		/* the item scored; stale if replaced since */
	uint32_t chunk;		/* its allocation size */
};

/*
 * The SIEVE queue (sv.lock). A key is named by its shard and its entry
 * number there (index.h), as SV_ID(); keys move only when their shard
 * grows, and sv_rehash() then renames them.
 */
#define SV_ENTRY_BITS	40
#define SV_ID(si, n)	(((uint64_t)(si) << SV_ENTRY_BITS) | ((n) + 1))
#define SV_SHARD(id)	((uint32_t)((id) >> SV_ENTRY_BITS))
#define SV_ENTRY(id)	(((id) & ((1ULL << SV_ENTRY_BITS) - 1)) - 1)

struct sv_shard {
	uint32_t *pos;		/* per entry number: position in the log
				 * + 1, 0 = not queued; NULL: not tracked */
	uint64_t n;		/* entries pos covers (the array's) */
};

struct sieve {
	pthread_mutex_t lock;
	bool on;
	uint64_t *log;		/* SV_ID()s, oldest first; 0 = hole */
	uint64_t len, cap, live, hand;
	struct sv_shard *sh;	/* per shard */
	uint32_t nshards;
};

struct kvd_evict {
	struct kvd *d;
	pthread_mutex_t lock;		/* ev->lock: see the top of the file */
	int policy;			/* ev->lock to write; relaxed reads */
	uint32_t samples;		/* ev->lock */
	uint32_t wm_pct;		/* ev->lock to write; relaxed reads */
	struct cand pool[POOL_SIZE];	/* ascending score; ev->lock */
	unsigned int npool;
	uint64_t rng;			/* ev->lock */
	struct sieve sv;

	pthread_t thread;
	bool started;
	pthread_mutex_t tlock;		/* stop, cond */
	pthread_cond_t cond;
	bool stop;
	int kicked;			/* atomic: a wake-up is pending */

	/* Counters: relaxed atomics, read by stats. */
	uint64_t by_policy[KVD_POLICY_NR];
	uint64_t sync, background, expired, sampled, failed;
};

int kvd_policy_parse(const char *name)
{
	int i;

	for (i = 0; i < KVD_POLICY_NR; i++)
		if (strcmp(name, policy_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *kvd_policy_name(enum kvd_policy p)
{
	return (unsigned int)p < KVD_POLICY_NR ? policy_names[p] : "?";
}

const char *kvd_policy_names(void)
{
	return "noeviction, lru, lfu, random, volatile-ttl, volatile-lru, "
	       "volatile-lfu, volatile-random, sieve";
}

static void cnt_add(uint64_t *c, uint64_t v)
{
	__atomic_add_fetch(c, v, __ATOMIC_RELAXED);
}

static uint64_t cnt(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static uint64_t rnd(struct kvd_evict *ev)
{
	/* xorshift64*: ev->lock held */
	ev->rng ^= ev->rng >> 12;
	ev->rng ^= ev->rng << 25;
	ev->rng ^= ev->rng >> 27;
	return ev->rng * 0x2545F4914F6CDD1DULL;
}

static uint32_t hint_word(struct kvd_evict *ev, uint64_t idx)
{
	uint32_t *w = kvd_hint_at(&ev->d->hints, idx);

	return w ? __atomic_load_n(w, __ATOMIC_RELAXED) : 0;
}

static bool volatile_only(int p)
{
	return p == KVD_POLICY_VOLATILE_LRU || p == KVD_POLICY_VOLATILE_LFU ||
	       p == KVD_POLICY_VOLATILE_RANDOM || p == KVD_POLICY_VOLATILE_TTL;
}

static uint32_t chunk_of(const struct kvs_iref *r)
{
	return (uint32_t)kva_chunk_size(kvs_item_size(r->klen, r->vlen,
						      r->flags));
}

/* ---- removing a victim -------------------------------------------- */

/* Remove the victim at @pos (its shard locked); return its chunk size. */
static uint32_t take(struct kvd_evict *ev, int policy, bool sync,
		     uint64_t hash, const struct kvs_pos *pos,
		     const struct kvs_iref *r)
{
	uint32_t chunk = chunk_of(r);

	if (kvs_iref_expired(r, kvs_now_ms())) {
		kvd_exec_remove(ev->d, KVD_EV_EXPIRE, hash, pos, r);
		cnt_add(&ev->expired, 1);
		return chunk;
	}
	kvd_exec_remove(ev->d, KVD_EV_EVICT, hash, pos, r);
	cnt_add(&ev->by_policy[policy], 1);
	cnt_add(sync ? &ev->sync : &ev->background, 1);
	return chunk;
}

/*
 * Evict the key hashed @hash if its item is still @off and, if @chunk, is
 * of that size. Return the chunk size freed, 0 if the candidate was stale
 * or unsuitable.
 */
static uint32_t take_if_live(struct kvd_evict *ev, int policy, bool sync,
			     uint64_t hash, kvs_off_t off, uint32_t chunk)
{
	struct kvd_index *x = &ev->d->index;
	uint32_t si = kvd_index_shard(x, hash), got = 0;
	struct kvs_pos pos;
	struct kvs_iref r;

	kvd_index_lock(x, si);
	if (kvd_index_find_item(x, hash, off, &pos, &r) &&
	    (!chunk || chunk_of(&r) == chunk))
		got = take(ev, policy, sync, hash, &pos, &r);
	kvd_index_unlock(x, si);
	return got;
}

/* ---- sampled policies ---------------------------------------------- */

static uint64_t score_of(struct kvd_evict *ev, int policy,
			 const struct kvs_iref *r, int64_t now, uint32_t clock)
{
	uint32_t w = hint_word(ev, r->hint);
	uint64_t idle, f, decay;

	if (kvs_iref_expired(r, now))
		return UINT64_MAX;
	/* No hint word (0: never written, e.g. given back): the coldest. */
	idle = w ? kvs_hint_idle(w, clock) : KVS_HINT_TIME_MASK + 1;
	f = w ? kvs_hint_freq(w) : 0;
	switch (policy) {
	case KVD_POLICY_LRU:
	case KVD_POLICY_VOLATILE_LRU:
		return (idle << 8) | (255 - f);
	case KVD_POLICY_LFU:
	case KVD_POLICY_VOLATILE_LFU:
		decay = idle / LFU_DECAY_TICKS;
		f = f > decay ? f - decay : 0;
		return ((255 - f) << 24) | idle;
	default:
		return rnd(ev) >> 1;
	}
}

static void pool_add(struct kvd_evict *ev, const struct cand *c)
{
	unsigned int i, j;

	for (i = 0; i < ev->npool; i++)
		if (ev->pool[i].off == c->off)
			return;			/* sampled again */
	if (ev->npool == POOL_SIZE) {
		if (c->score <= ev->pool[0].score)
			return;
		memmove(&ev->pool[0], &ev->pool[1],
			--ev->npool * sizeof(ev->pool[0]));
	}
	for (i = 0; i < ev->npool && ev->pool[i].score < c->score; i++)
		;
	for (j = ev->npool; j > i; j--)
		ev->pool[j] = ev->pool[j - 1];
	ev->pool[i] = *c;
	ev->npool++;
}

struct sampling {
	struct kvd_evict *ev;
	int policy;
	int64_t now;
	uint32_t clock;
	uint32_t want, got;
};

static void consider(struct sampling *s, uint64_t hash,
		     const struct kvs_iref *r)
{
	struct cand c = {
		.score = score_of(s->ev, s->policy, r, s->now, s->clock),
		.hash = hash,
		.off = (kvs_off_t)((const char *)r->it - s->ev->d->seg.base),
		.chunk = chunk_of(r),
	};

	pool_add(s->ev, &c);
	s->got++;
}

static int sample_one(void *arg, uint64_t hash, const struct kvs_pos *pos,
		      const struct kvs_iref *r)
{
	struct sampling *s = arg;

	(void)pos;
	consider(s, hash, r);
	return s->got >= s->want;
}

/* Read @want keys (with a TTL, for volatile-*) into the pool. */
static void sample(struct kvd_evict *ev, int policy)
{
	struct kvd_index *x = &ev->d->index;
	struct sampling s = {
		.ev = ev, .policy = policy, .now = kvs_now_ms(),
		.clock = kvs_load_relaxed(&ev->d->hdr->clock_tick),
		.want = ev->samples,
	};
	unsigned int tries, j;

	for (tries = 0; tries < SAMPLE_SHARDS && s.got < s.want; tries++) {
		uint32_t si = (uint32_t)(rnd(ev) % x->nshards);

		kvd_index_lock(x, si);
		if (volatile_only(policy)) {
			/* want consecutive entries from a random one: the
			 * whole heap when it is small. */
			uint32_t len = kvd_expiry_count(ev->d->ex, si);
			uint64_t start = rnd(ev);

			for (j = 0; j < s.want && j < len; j++) {
				struct kvs_pos pos;
				struct kvs_iref r;
				uint64_t hash;

				if (kvd_expiry_sample(ev->d->ex, si, start + j,
						      &hash, &pos, &r))
					consider(&s, hash, &r);
			}
		} else {
			uint64_t nb = kvd_index_nbuckets(x, si);

			kvd_index_walk(x, si, rnd(ev) % nb, s.want / 4 + 2,
				       sample_one, &s);
		}
		kvd_index_unlock(x, si);
	}
	cnt_add(&ev->sampled, s.got);
}

/*
 * Drop the pool's candidates of another size than @chunk, for an
 * eviction that only a victim of that size can serve (a held heap: see
 * kvd_evict_make_room()). Candidates of other sizes that score colder
 * would otherwise fill the pool and keep every one of that size out, and
 * the write fail with the cache full of victims it could use. Those
 * dropped are sampled again later. Not for an eviction that merely
 * prefers a size: the pool is what keeps the sampled policies' order
 * across evictions.
 */
static void pool_keep_chunk(struct kvd_evict *ev, uint32_t chunk)
{
	unsigned int k, n = 0;

	for (k = 0; k < ev->npool; k++)
		if (ev->pool[k].chunk == chunk)
			ev->pool[n++] = ev->pool[k];
	ev->npool = n;
}

static uint32_t evict_sampled(struct kvd_evict *ev, int policy, bool sync,
			      uint32_t chunk, bool only)
{
	unsigned int tries;
	int i;

	for (tries = 0; tries < PICK_TRIES; tries++) {
		uint32_t got;
		struct cand c;

		if (tries == 0 || ev->npool == 0 || chunk)
			sample(ev, policy);
		if (only)
			pool_keep_chunk(ev, chunk);
		for (i = (int)ev->npool - 1; i >= 0; i--)
			if (!chunk || ev->pool[i].chunk == chunk)
				break;
		if (i < 0) {
			if (ev->npool == 0 && tries > 2 && !only)
				return 0;	/* nothing to evict */
			continue;
		}
		c = ev->pool[i];
		memmove(&ev->pool[i], &ev->pool[i + 1],
			(ev->npool - (unsigned int)i - 1) * sizeof(c));
		ev->npool--;
		got = take_if_live(ev, policy, sync, c.hash, c.off, chunk);
		if (got)
			return got;
	}
	return 0;
}

/* ---- volatile-ttl ---------------------------------------------------- */

static uint32_t evict_ttl(struct kvd_evict *ev, bool sync)
{
	struct kvd_index *x = &ev->d->index;
	unsigned int tries;

	for (tries = 0; tries < PICK_TRIES; tries++) {
		int64_t best = INT64_MAX;
		uint32_t si, bs = 0, got = 0;
		struct kvs_pos pos;
		struct kvs_iref r;
		uint64_t hash;
		bool found;

		for (si = 0; si < x->nshards; si++) {
			int64_t n = kvd_expiry_next(ev->d->ex, si);

			if (n < best) {
				best = n;
				bs = si;
			}
		}
		if (best == INT64_MAX)
			return 0;
		kvd_index_lock(x, bs);
		found = kvd_expiry_top(ev->d->ex, bs, &hash, &pos, &r);
		if (found)
			got = take(ev, KVD_POLICY_VOLATILE_TTL, sync, hash,
				   &pos, &r);
		kvd_index_unlock(x, bs);
		if (got)
			return got;
	}
	return 0;
}

/* ---- sieve ----------------------------------------------------------- */

/* The log slot of entry @n of shard @si + 1, or NULL (sv.lock held). */
static uint32_t *sv_pos(struct sieve *sv, uint32_t si, uint64_t n)
{
	struct sv_shard *sh;

	if (!sv->sh || si >= sv->nshards)
		return NULL;
	sh = &sv->sh[si];
	return sh->pos && n < sh->n ? &sh->pos[n] : NULL;
}

static void sv_compact(struct sieve *sv)
{
	uint64_t i, n = 0, hand = 0;

	for (i = 0; i < sv->len; i++) {
		uint64_t id = sv->log[i];

		if (!id)
			continue;
		if (i < sv->hand)
			hand++;
		sv->log[n] = id;
		*sv_pos(sv, SV_SHARD(id), SV_ENTRY(id)) = (uint32_t)(n + 1);
		n++;
	}
	sv->len = n;
	sv->hand = hand;
}

/* Forget the key at @p, its log slot (sv.lock held). */
static void sv_unlink(struct sieve *sv, uint32_t *p)
{
	sv->log[*p - 1] = 0;
	*p = 0;
	sv->live--;
	if (sv->len > 2 * sv->live + 1024)
		sv_compact(sv);
}

/* Queue the key in entry @n of shard @si, newest, unless it is already
 * (a new value: SIEVE does not move it). sv.lock held. */
static void sv_add(struct sieve *sv, uint32_t si, uint64_t n)
{
	uint32_t *p = sv_pos(sv, si, n);

	if (!p || *p)
		return;
	if (sv->len == sv->cap) {
		if (sv->len > 2 * sv->live) {
			sv_compact(sv);
		} else {
			uint64_t cap = sv->cap ? sv->cap * 2 : 4096;
			uint64_t *l = cap < UINT32_MAX ?
				      realloc(sv->log, cap * sizeof(*l)) : NULL;

			if (!l) {
				kvd_log(LOG_WARNING, "event=sieve_oom");
				return;	/* untracked: never evicted by sieve */
			}
			sv->log = l;
			sv->cap = cap;
		}
	}
	sv->log[sv->len++] = SV_ID(si, n);
	*p = (uint32_t)sv->len;
	sv->live++;
}

static void sv_del(struct sieve *sv, uint32_t si, uint64_t n)
{
	uint32_t *p = sv_pos(sv, si, n);

	if (p && *p)
		sv_unlink(sv, p);
}

/* Forget every key (sv.lock held). */
static void sv_clear(struct sieve *sv)
{
	uint64_t i;

	for (i = 0; i < sv->len; i++)
		if (sv->log[i])
			*sv_pos(sv, SV_SHARD(sv->log[i]),
				SV_ENTRY(sv->log[i])) = 0;
	sv->len = sv->live = sv->hand = 0;
}

/*
 * The index's rehash callback (shard @si locked): shard @si's keys moved
 * to a new array; give them their new names, keeping their places in the
 * queue.
 */
static void sv_rehash(void *arg, uint32_t si, const uint32_t *moved,
		      uint64_t old_n, uint64_t new_n)
{
	struct kvd_evict *ev = arg;
	struct sieve *sv = &ev->sv;
	struct sv_shard *sh;
	uint32_t *pos;
	uint64_t i;

	pthread_mutex_lock(&sv->lock);
	if (!sv->on || !sv->sh || !sv->sh[si].pos)
		goto out;
	sh = &sv->sh[si];
	pos = calloc(new_n, sizeof(*pos));
	for (i = 0; i < old_n && i < sh->n; i++) {
		uint32_t p = sh->pos[i];

		if (!p)
			continue;
		if (!pos || moved[i] == KVD_NO_ENTRY) {
			sv->log[p - 1] = 0;	/* out of memory: untracked */
			sv->live--;
			continue;
		}
		pos[moved[i]] = p;
		sv->log[p - 1] = SV_ID(si, moved[i]);
	}
	if (!pos)
		kvd_log(LOG_WARNING, "event=sieve_oom shard=%u", si);
	free(sh->pos);
	sh->pos = pos;
	sh->n = pos ? new_n : 0;
out:
	pthread_mutex_unlock(&sv->lock);
}

/*
 * Hook: a key's events run under its shard lock (hooks.h). FLUSH comes
 * before the shards are emptied, on the server thread, which alone adds
 * keys: none is added until the flush is done, and every key now queued
 * is about to go.
 */
static void on_event(const struct kvd_event_info *e, void *arg)
{
	struct kvd_evict *ev = arg;
	struct sieve *sv = &ev->sv;
	struct kvd_index *x = &ev->d->index;
	uint32_t si = kvd_index_shard(x, e->hash);
	struct kvs_pos pos;
	struct kvs_iref r;
	bool found = false;

	if (!__atomic_load_n(&sv->on, __ATOMIC_RELAXED))
		return;
	/* Where the new item sits (the shard is locked: it stays there). */
	if (e->ev == KVD_EV_SET)
		found = kvd_index_find_item(x, e->hash, e->item, &pos, &r);
	pthread_mutex_lock(&sv->lock);
	if (sv->on && e->ev == KVD_EV_FLUSH) {
		sv_clear(sv);
	} else if (sv->on) {
		switch (e->ev) {
		case KVD_EV_SET:
			if (found)
				sv_add(sv, si, kvd_pos_entry(&pos));
			break;
		case KVD_EV_DEL:
		case KVD_EV_EXPIRE:
		case KVD_EV_EVICT:
			if (e->entry)
				sv_del(sv, si, e->entry - 1);
			break;
		default:
			break;
		}
	}
	pthread_mutex_unlock(&sv->lock);
}

/*
 * SIEVE's hand: move to the next unvisited key, clearing visited bits on
 * the way, and evict it. Each step locks the shard of the key under the
 * hand, then sv.lock (the lock order), and checks the hand still names
 * that key. The bit is cleared with an atomic AND on the shared word: a
 * reader's concurrent store may put it back (the key was just read: it
 * deserves to stay) or drop a counter increment.
 */
static uint32_t evict_sieve(struct kvd_evict *ev, bool sync, uint32_t chunk)
{
	struct kvd_index *x = &ev->d->index;
	struct sieve *sv = &ev->sv;
	unsigned int tries = 0;
	uint64_t steps, limit;

	pthread_mutex_lock(&sv->lock);
	limit = 2 * sv->len + 2;
	pthread_mutex_unlock(&sv->lock);
	for (steps = 0; steps < limit && tries < PICK_TRIES; steps++) {
		uint64_t id, hand, n, hash;
		struct kvs_pos pos;
		struct kvs_iref r;
		uint32_t si, got, *w, *p;

		pthread_mutex_lock(&sv->lock);
		if (!sv->live) {
			pthread_mutex_unlock(&sv->lock);
			return 0;
		}
		if (sv->hand >= sv->len)
			sv->hand = 0;
		hand = sv->hand;
		id = sv->log[hand];
		if (!id)
			sv->hand++;
		pthread_mutex_unlock(&sv->lock);
		if (!id)
			continue;
		si = SV_SHARD(id);
		n = SV_ENTRY(id);
		kvd_index_lock(x, si);
		pthread_mutex_lock(&sv->lock);
		if (hand >= sv->len || sv->log[hand] != id) {
			/* Compacted or renamed meanwhile: look again. */
			pthread_mutex_unlock(&sv->lock);
			kvd_index_unlock(x, si);
			continue;
		}
		w = kvd_index_hint(x, si, n);
		if (w && (__atomic_load_n(w, __ATOMIC_RELAXED) &
			  KVS_HINT_VISITED)) {
			__atomic_fetch_and(w, ~KVS_HINT_VISITED,
					   __ATOMIC_RELAXED);
			sv->hand++;
			pthread_mutex_unlock(&sv->lock);
			kvd_index_unlock(x, si);
			continue;
		}
		if (!kvd_index_at(x, si, n, &hash, &pos, &r)) {
			/* Gone with no event (e.g. flushed): forget it. */
			if ((p = sv_pos(sv, si, n)) && *p)
				sv_unlink(sv, p);
			pthread_mutex_unlock(&sv->lock);
			kvd_index_unlock(x, si);
			continue;
		}
		sv->hand++;
		/* take() emits the eviction, whose hook takes sv.lock. */
		pthread_mutex_unlock(&sv->lock);
		got = 0;
		if (!chunk || chunk_of(&r) == chunk)
			got = take(ev, KVD_POLICY_SIEVE, sync, hash, &pos, &r);
		kvd_index_unlock(x, si);
		if (got)
			return got;
		tries++;
	}
	return 0;
}

struct sv_walk {
	struct sieve *sv;
	uint32_t si;
};

static int sieve_track(void *arg, uint64_t hash, const struct kvs_pos *pos,
		       const struct kvs_iref *r)
{
	struct sv_walk *w = arg;

	(void)hash;
	(void)r;
	pthread_mutex_lock(&w->sv->lock);
	sv_add(w->sv, w->si, kvd_pos_entry(pos));
	pthread_mutex_unlock(&w->sv->lock);
	return 0;
}

/*
 * Start the queue (ev->lock held): events and renaming first, then each
 * shard, under its lock: its positions, then its keys. A key written
 * before its shard's turn is added by the walk; after, by its event.
 */
static int sieve_on(struct kvd_evict *ev)
{
	struct kvd_index *x = &ev->d->index;
	struct sieve *sv = &ev->sv;
	struct sv_walk w = { .sv = sv };
	struct sv_shard *sh = calloc(x->nshards, sizeof(*sh));
	uint32_t si;

	if (!sh)
		return -ENOMEM;
	pthread_mutex_lock(&sv->lock);
	sv->sh = sh;
	sv->nshards = x->nshards;
	__atomic_store_n(&sv->on, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&sv->lock);
	x->rehash_arg = ev;
	__atomic_store_n(&x->on_rehash, sv_rehash, __ATOMIC_RELEASE);
	for (si = 0; si < x->nshards; si++) {
		uint64_t n;
		uint32_t *pos;

		kvd_index_lock(x, si);
		n = kvd_index_entries(x, si);
		pos = calloc(n, sizeof(*pos));
		pthread_mutex_lock(&sv->lock);
		sh[si].pos = pos;
		sh[si].n = pos ? n : 0;
		pthread_mutex_unlock(&sv->lock);
		if (!pos)
			kvd_log(LOG_WARNING, "event=sieve_oom shard=%u", si);
		w.si = si;
		kvd_index_walk(x, si, 0, kvd_index_nbuckets(x, si),
			       sieve_track, &w);
		kvd_index_unlock(x, si);
	}
	return 0;
}

static void sieve_off(struct kvd_evict *ev)
{
	struct sieve *sv = &ev->sv;
	uint32_t si;

	__atomic_store_n(&ev->d->index.on_rehash, NULL, __ATOMIC_RELEASE);
	pthread_mutex_lock(&sv->lock);
	__atomic_store_n(&sv->on, false, __ATOMIC_RELAXED);
	for (si = 0; sv->sh && si < sv->nshards; si++)
		free(sv->sh[si].pos);
	free(sv->sh);
	free(sv->log);
	sv->sh = NULL;
	sv->log = NULL;
	sv->nshards = 0;
	sv->len = sv->cap = sv->live = sv->hand = 0;
	pthread_mutex_unlock(&sv->lock);
}

/* ---- a whole page ---------------------------------------------------- */

/*
 * Evict every live item of the class page with the fewest bytes in use
 * (ev->lock held), so that the page returns to the pool after a grace
 * period (not while a revoked reader holds the heap: then this is not
 * called, see kvd_evict_make_room()): with no free page, evicting items one by one frees chunks only
 * in the classes they came from, and a write whose class has no room, a
 * bucket array or a large run may go on failing however many go.
 * A chunk's header is read without knowing whether the chunk holds an
 * item (it may be free, a bucket array, or retired): the key it names is
 * only evicted if the index maps that key to this very offset.
 */
static uint32_t evict_chunks(struct kvd_evict *ev, int policy, bool sync,
			     kvs_off_t page, uint32_t size, uint32_t n)
{
	struct kvd *d = ev->d;
	uint32_t k, got = 0;

	for (k = 0; k < n; k++) {
		kvs_off_t off = page + (kvs_off_t)k * size;
		const struct kvs_item *it =
			(const struct kvs_item *)(d->seg.base + off);
		uint32_t vf = __atomic_load_n(&it->vlen_flags, __ATOMIC_RELAXED);
		size_t klen = __atomic_load_n(&it->klen, __ATOMIC_RELAXED);
		size_t extra = kvs_item_extra(vf >> KVS_ITEM_FLAGS_SHIFT);
		uint64_t hash;

		if (!klen || sizeof(*it) + extra + klen > size)
			continue;
		hash = kvs_hash(d->hdr->hash_seed,
				(const char *)(it + 1) + extra, klen);
		got += take_if_live(ev, policy, sync, hash, off, 0);
	}
	return got;
}

/*
 * The sparsest item page that holds an evictable item (the sparsest may
 * hold only retired items; kva_sparse_page() never names array pages):
 * evict its items. Return the
 * bytes of the chunks evicted, 0 if none.
 */
static uint32_t evict_page(struct kvd_evict *ev, int policy, bool sync)
{
	struct kvd *d = ev->d;
	kvs_off_t page, skip[PAGE_TRIES];
	uint32_t size, n, got = 0;
	unsigned int t;

	for (t = 0; t < PAGE_TRIES && !got; t++) {
		if (kva_sparse_page(d->heap, skip, t, &page, &size, &n) < 0)
			return 0;
		skip[t] = page;
		got = evict_chunks(ev, policy, sync, page, size, n);
	}
	return got;
}

/*
 * Enough pages are free, and a write still failed: it needs them
 * contiguous (a large item, a bucket array growing). Free the run of
 * pages, as long as the item's or one more than the last attempt's, that
 * holds the fewest bytes, and wait for it (ev->lock held).
 */
static uint64_t evict_run(struct kvd_evict *ev, const struct kvd_room *need,
			  unsigned int attempt)
{
	uint64_t n = attempt + 1, freed = 0;
	uint32_t size, nchunks, i;
	kvs_off_t run;

	if (need->bytes > KVA_MAX_CLASS &&
	    (need->bytes + KVA_PAGE_SIZE - 1) / KVA_PAGE_SIZE > n)
		n = (need->bytes + KVA_PAGE_SIZE - 1) / KVA_PAGE_SIZE;
	if (n > PAGES_MAX)
		n = PAGES_MAX;
	if (kva_sparse_run(ev->d->heap, (uint32_t)n, &run) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		kvs_off_t page = run + (kvs_off_t)i * KVA_PAGE_SIZE;

		if (kva_page_info(ev->d->heap, page, &size, &nchunks) == 0)
			freed += evict_chunks(ev, ev->policy, true, page, size,
					      nchunks);
	}
	if (freed && kvd_reclaim_stalled(ev->d->rc) == 0)
		kvd_reclaim_sync(ev->d->rc, SYNC_WAIT_MS);
	return freed;
}

/*
 * Give pages back until as many are free as @need could take (its bytes
 * in whole pages, one more for each class or bucket array it may open,
 * more on each @attempt), or PAGES_MAX have gone (ev->lock held). Each
 * page is waited for (a grace period) before the next is chosen, since
 * until then it still looks in use.
 */
static uint64_t evict_pages(struct kvd_evict *ev, const struct kvd_room *need,
			    unsigned int attempt)
{
	uint64_t want = need->bytes / KVA_PAGE_SIZE + 2 + attempt, freed = 0;
	struct kva_stats st;
	unsigned int i;

	for (i = 0; i < PAGES_MAX; i++) {
		uint32_t got;

		kva_get_stats(ev->d->heap, &st);
		if (st.pages_free >= want && i == 0 && attempt > 0)
			return evict_run(ev, need, attempt);
		if (st.pages_free >= want)
			break;
		got = evict_page(ev, ev->policy, true);
		freed += got;
		if (!got || kvd_reclaim_stalled(ev->d->rc) ||
		    kvd_reclaim_sync(ev->d->rc, SYNC_WAIT_MS))
			break;
	}
	return freed;
}

/* ---- one eviction ----------------------------------------------------- */

/*
 * Evict one key under the current policy (ev->lock held); if @chunk,
 * only a key whose item has that allocation size. @only: no other size
 * can serve the write (a held heap), so the sampled policies look harder
 * for one (pool_keep_chunk()). Return the bytes of the chunk it frees
 * (after a grace period), 0 if nothing was evicted.
 */
static uint32_t evict_one(struct kvd_evict *ev, bool sync, uint32_t chunk,
			  bool only)
{
	int p = ev->policy;

	switch (p) {
	case KVD_POLICY_NOEVICTION:
		return 0;
	case KVD_POLICY_VOLATILE_TTL:
		return evict_ttl(ev, sync);
	case KVD_POLICY_SIEVE:
		return evict_sieve(ev, sync, chunk);
	default:
		return evict_sampled(ev, p, sync, chunk, only);
	}
}

static uint64_t low_bytes(struct kvd_evict *ev, uint64_t limit)
{
	return limit / 100 * __atomic_load_n(&ev->wm_pct, __ATOMIC_RELAXED);
}

bool kvd_evict_make_room(struct kvd_evict *ev, const struct kvd_room *need,
			 unsigned int attempt)
{
	struct kvd *d = ev->d;
	uint64_t max = d->index.max_entries, count, freed = 0, n, target;
	struct kva_stats st;
	uint32_t chunk = 0, got;

	if (__atomic_load_n(&ev->policy, __ATOMIC_RELAXED) ==
	    KVD_POLICY_NOEVICTION)
		return false;
	pthread_mutex_lock(&ev->lock);
	count = kvd_index_count(&d->index);
	if (need->keys && max && count + need->keys > max) {
		/* --max-entries: exactly as many keys out as must come in. */
		if (need->keys > max) {
			pthread_mutex_unlock(&ev->lock);
			goto fail;
		}
		for (n = count + need->keys - max; n; n--) {
			if (!evict_one(ev, true, 0, false))
				break;
			freed++;
		}
		pthread_mutex_unlock(&ev->lock);
		if (!freed)
			goto fail;
		return true;
	}
	if (kvd_reclaim_revoked(d->rc)) {
		/*
		 * A revoked reader holds the heap (kva_hold()): no page
		 * changes class or kind until it goes on, so only victims
		 * of the write's own chunk size can make room for it. A
		 * write that needs pages (a large item, a batch, a bucket
		 * array) fails without evicting anything.
		 */
		if (need->bytes && need->bytes <= KVA_MAX_CLASS) {
			chunk = (uint32_t)kva_chunk_size(need->bytes);
			target = need->bytes << (attempt < 16 ? attempt : 16);
			while (freed < target &&
			       (got = evict_one(ev, true, chunk, true)))
				freed += got;
		}
		pthread_mutex_unlock(&ev->lock);
		if (!freed)
			goto fail;
		kvd_reclaim_sync(d->rc, SYNC_WAIT_MS);
		return true;
	}
	/*
	 * Memory. With no free page, only a chunk of the size the write
	 * needs helps it (the heap keeps pages per size class): prefer
	 * victims of that size for the first attempts, then any.
	 */
	kva_get_stats(d->heap, &st);
	if (st.pages_free == 0 && need->bytes && need->bytes <= KVA_MAX_CLASS &&
	    attempt < 4)
		chunk = (uint32_t)kva_chunk_size(need->bytes);
	target = (need->bytes ? need->bytes : 64) << (attempt < 16 ? attempt : 16);
	/*
	 * Victims of the write's size did not do, or it needs pages (a
	 * large item, a batch, a bucket array) and none is free: give back
	 * the sparsest pages whole, then evict as usual.
	 */
	if (!volatile_only(ev->policy) &&
	    (attempt > 0 || (st.pages_free == 0 &&
			     (!need->bytes || need->bytes > KVA_MAX_CLASS))))
		freed += evict_pages(ev, need, attempt);
	while (freed < target) {
		got = evict_one(ev, true, chunk, false);
		if (!got && chunk) {
			chunk = 0;	/* none of that size: any will do */
			continue;
		}
		if (!got)
			break;
		freed += got;
	}
	pthread_mutex_unlock(&ev->lock);
	if (!freed)
		goto fail;
	/* Evicted items come back after a grace period: wait for it (not
	 * when a reader is stuck: it would not end). */
	if (kvd_reclaim_stalled(d->rc) == 0)
		kvd_reclaim_sync(d->rc, SYNC_WAIT_MS);
	return true;
fail:
	cnt_add(&ev->failed, 1);
	return false;
}

void kvd_evict_note_alloc(struct kvd_evict *ev)
{
	uint64_t limit, used;

	if (__atomic_load_n(&ev->policy, __ATOMIC_RELAXED) ==
	    KVD_POLICY_NOEVICTION || __atomic_load_n(&ev->kicked,
						     __ATOMIC_RELAXED))
		return;
	limit = kva_limit(ev->d->heap);
	used = kva_used(ev->d->heap);
	if (limit - used >= low_bytes(ev, limit))
		return;
	if (__atomic_exchange_n(&ev->kicked, 1, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&ev->tlock);
	pthread_cond_signal(&ev->cond);
	pthread_mutex_unlock(&ev->tlock);
}

/* ---- the evictor thread ----------------------------------------------- */

static uint64_t free_bytes(struct kvd_evict *ev, uint64_t *limit)
{
	*limit = kva_limit(ev->d->heap);
	return *limit - kva_used(ev->d->heap);
}

/* Evict until twice the low watermark is free, or nothing is left. */
static void background_pass(struct kvd_evict *ev)
{
	uint64_t limit, low, high, avail, freed = 0;
	unsigned int n = 0;

	avail = free_bytes(ev, &limit);
	low = low_bytes(ev, limit);
	if (!low || avail >= low)
		return;
	high = 2 * low;
	for (;;) {
		uint32_t got;

		pthread_mutex_lock(&ev->lock);
		got = evict_one(ev, false, 0, false);
		pthread_mutex_unlock(&ev->lock);
		if (!got)
			break;
		freed += got;
		if (++n % BG_BATCH == 0 || avail + freed >= high) {
			/* Let the memory come back before judging again. */
			if (kvd_reclaim_stalled(ev->d->rc) ||
			    kvd_reclaim_sync(ev->d->rc, 1000))
				break;
			avail = free_bytes(ev, &limit);
			freed = 0;
			if (avail >= high)
				break;
		}
		pthread_mutex_lock(&ev->tlock);
		if (ev->stop) {
			pthread_mutex_unlock(&ev->tlock);
			break;
		}
		pthread_mutex_unlock(&ev->tlock);
	}
}

static void *evictor_main(void *arg)
{
	struct kvd_evict *ev = arg;
	struct timespec ts;

	pthread_mutex_lock(&ev->tlock);
	while (!ev->stop) {
		if (!__atomic_load_n(&ev->kicked, __ATOMIC_RELAXED)) {
			ts = kvs_deadline(CLOCK_MONOTONIC, BG_PERIOD_MS);
			pthread_cond_timedwait(&ev->cond, &ev->tlock, &ts);
		}
		if (ev->stop)
			break;
		pthread_mutex_unlock(&ev->tlock);
		__atomic_store_n(&ev->kicked, 0, __ATOMIC_RELAXED);
		if (__atomic_load_n(&ev->policy, __ATOMIC_RELAXED) !=
		    KVD_POLICY_NOEVICTION)
			background_pass(ev);
		pthread_mutex_lock(&ev->tlock);
	}
	pthread_mutex_unlock(&ev->tlock);
	return NULL;
}

/* ---- set-up and settings ---------------------------------------------- */

int kvd_evict_init(struct kvd_evict **evp, struct kvd *d)
{
	struct kvd_evict *ev = calloc(1, sizeof(*ev));
	pthread_condattr_t ca;
	int rc;

	if (!ev)
		return -ENOMEM;
	ev->d = d;
	ev->policy = KVD_POLICY_NOEVICTION;
	ev->samples = d->cfg.eviction_samples;
	ev->wm_pct = d->cfg.eviction_watermark;
	ev->rng = d->hdr->hash_seed | 1;
	pthread_mutex_init(&ev->lock, NULL);
	pthread_mutex_init(&ev->sv.lock, NULL);
	pthread_mutex_init(&ev->tlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = kvd_hook_add(&d->hooks, on_event, ev);
	if (rc == 0)
		rc = kvd_evict_set_policy(ev, d->cfg.eviction);
	if (rc < 0) {
		kvd_evict_destroy(ev);
		return rc;
	}
	*evp = ev;
	return 0;
}

int kvd_evict_start(struct kvd_evict *ev)
{
	int rc = pthread_create(&ev->thread, NULL, evictor_main, ev);

	if (rc)
		return -rc;
	ev->started = true;
	return 0;
}

void kvd_evict_stop(struct kvd_evict *ev)
{
	if (!ev || !ev->started)
		return;
	pthread_mutex_lock(&ev->tlock);
	ev->stop = true;
	pthread_cond_signal(&ev->cond);
	pthread_mutex_unlock(&ev->tlock);
	pthread_join(ev->thread, NULL);
	ev->started = false;
}

void kvd_evict_destroy(struct kvd_evict *ev)
{
	if (!ev)
		return;
	kvd_evict_stop(ev);
	sieve_off(ev);
	pthread_cond_destroy(&ev->cond);
	pthread_mutex_destroy(&ev->tlock);
	pthread_mutex_destroy(&ev->sv.lock);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

uint32_t kvd_policy_hint_mode(enum kvd_policy p)
{
	switch (p) {
	case KVD_POLICY_LRU:
	case KVD_POLICY_LFU:
	case KVD_POLICY_VOLATILE_LRU:
	case KVD_POLICY_VOLATILE_LFU:
		return KVS_HINTS_ALL;
	case KVD_POLICY_SIEVE:
		return KVS_HINTS_VISITED;
	default:
		return KVS_HINTS_NONE;
	}
}

int kvd_evict_set_policy(struct kvd_evict *ev, enum kvd_policy p)
{
	int rc = 0;

	if ((unsigned int)p >= KVD_POLICY_NR)
		return -EINVAL;
	pthread_mutex_lock(&ev->lock);
	if (p == KVD_POLICY_SIEVE && !ev->sv.on)
		rc = sieve_on(ev);
	else if (p != KVD_POLICY_SIEVE && ev->sv.on)
		sieve_off(ev);
	if (rc == 0) {
		ev->npool = 0;		/* scored for another policy */
		__atomic_store_n(&ev->policy, (int)p, __ATOMIC_RELAXED);
		/* Readers leave only what this policy reads. */
		kvs_store_relaxed(&ev->d->hdr->hint_mode,
				  kvd_policy_hint_mode(p));
		kvd_log(LOG_INFO, "event=eviction_policy policy=%s",
			kvd_policy_name(p));
	}
	pthread_mutex_unlock(&ev->lock);
	return rc;
}

enum kvd_policy kvd_evict_policy(struct kvd_evict *ev)
{
	return (enum kvd_policy)__atomic_load_n(&ev->policy, __ATOMIC_RELAXED);
}

int kvd_evict_set_samples(struct kvd_evict *ev, uint32_t n)
{
	if (n < 1 || n > 64)
		return -EINVAL;
	pthread_mutex_lock(&ev->lock);
	ev->samples = n;
	pthread_mutex_unlock(&ev->lock);
	return 0;
}

uint32_t kvd_evict_samples(struct kvd_evict *ev)
{
	uint32_t n;

	pthread_mutex_lock(&ev->lock);
	n = ev->samples;
	pthread_mutex_unlock(&ev->lock);
	return n;
}

int kvd_evict_set_watermark(struct kvd_evict *ev, uint32_t pct)
{
	if (pct > 50)
		return -EINVAL;
	__atomic_store_n(&ev->wm_pct, pct, __ATOMIC_RELAXED);
	return 0;
}

uint32_t kvd_evict_watermark(struct kvd_evict *ev)
{
	return __atomic_load_n(&ev->wm_pct, __ATOMIC_RELAXED);
}

void kvd_evict_get_stats(struct kvd_evict *ev, struct kvd_evict_stats *st)
{
	int i;

	for (i = 0; i < KVD_POLICY_NR; i++)
		st->by_policy[i] = cnt(&ev->by_policy[i]);
	st->sync = cnt(&ev->sync);
	st->background = cnt(&ev->background);
	st->expired = cnt(&ev->expired);
	st->sampled = cnt(&ev->sampled);
	st->failed = cnt(&ev->failed);
	pthread_mutex_lock(&ev->sv.lock);
	st->sieve_queue = ev->sv.live;
	pthread_mutex_unlock(&ev->sv.lock);
}
