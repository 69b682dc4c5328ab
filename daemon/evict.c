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
 *    queue is daemon-private, indexed by the key's hint index (which a
 *    key keeps for life), built when the policy is chosen and kept from
 *    the hook events; an array with holes, compacted when half empty.
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

/* The SIEVE queue (sv.lock). */
struct sieve {
	pthread_mutex_t lock;
	bool on;
	uint32_t *log;		/* hint indexes, oldest first; 0 = hole */
	uint64_t len, cap, live, hand;
	uint32_t *pos;		/* per hint index: position + 1, 0 = absent */
	uint64_t *hash;		/* per hint index: the key's hash */
	uint32_t nwords;
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

static uint32_t hint_word(struct kvd_evict *ev, uint32_t idx)
{
	struct kvd_hints *h = &ev->d->hints;

	if (!idx || idx >= h->nwords)
		return 0;
	return __atomic_load_n(&h->words[idx], __ATOMIC_RELAXED);
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
 * Evict the key hashed @hash if its item is still @off (or, @off 0, it
 * still has hint index @hint) and, if @chunk, is of that size. Return the
 * chunk size freed, 0 if the candidate was stale or unsuitable.
 */
static uint32_t take_if_live(struct kvd_evict *ev, int policy, bool sync,
			     uint64_t hash, kvs_off_t off, uint32_t hint,
			     uint32_t chunk, bool *stale)
{
	struct kvd_index *x = &ev->d->index;
	uint32_t si = kvd_index_shard(x, hash), got = 0;
	struct kvs_pos pos;
	struct kvs_iref r;

	kvd_index_lock(x, si);
	*stale = !kvd_index_find_item(x, hash, off, hint, &pos, &r);
	if (!*stale && (!chunk || chunk_of(&r) == chunk))
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
	/* No hint word (none was free): the coldest possible. */
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

static uint32_t evict_sampled(struct kvd_evict *ev, int policy, bool sync,
			      uint32_t chunk)
{
	unsigned int tries;
	int i;

	for (tries = 0; tries < PICK_TRIES; tries++) {
		bool stale;
		uint32_t got;
		struct cand c;

		if (tries == 0 || ev->npool == 0 || chunk)
			sample(ev, policy);
		for (i = (int)ev->npool - 1; i >= 0; i--)
			if (!chunk || ev->pool[i].chunk == chunk)
				break;
		if (i < 0) {
			if (ev->npool == 0 && tries > 2)
				return 0;	/* nothing to evict */
			continue;
		}
		c = ev->pool[i];
		memmove(&ev->pool[i], &ev->pool[i + 1],
			(ev->npool - (unsigned int)i - 1) * sizeof(c));
		ev->npool--;
		got = take_if_live(ev, policy, sync, c.hash, c.off, 0, chunk,
				   &stale);
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

static void sv_compact(struct sieve *sv)
{
	uint64_t i, n = 0, hand = 0;

	for (i = 0; i < sv->len; i++) {
		uint32_t h = sv->log[i];

		if (!h)
			continue;
		if (i < sv->hand)
			hand++;
		sv->log[n] = h;
		sv->pos[h] = (uint32_t)(n + 1);
		n++;
	}
	sv->len = n;
	sv->hand = hand;
}

static void sv_unlink(struct sieve *sv, uint32_t h)
{
	sv->log[sv->pos[h] - 1] = 0;
	sv->pos[h] = 0;
	sv->live--;
	if (sv->len > 2 * sv->live + 1024)
		sv_compact(sv);
}

/* Track key @hash with hint index @h, newest (sv.lock held). */
static void sv_add(struct sieve *sv, uint32_t h, uint64_t hash)
{
	if (sv->pos[h]) {
		if (sv->hash[h] == hash)
			return;		/* a new value: SIEVE does not move it */
		sv_unlink(sv, h);	/* the word was reused: a new key */
	}
	if (sv->len == sv->cap) {
		if (sv->len > 2 * sv->live) {
			sv_compact(sv);
		} else {
			uint64_t cap = sv->cap ? sv->cap * 2 : 4096;
			uint32_t *p = realloc(sv->log, cap * sizeof(*p));

			if (!p) {
				kvd_log(LOG_WARNING, "event=sieve_oom");
				return;	/* untracked: never evicted by sieve */
			}
			sv->log = p;
			sv->cap = cap;
		}
	}
	sv->log[sv->len++] = h;
	sv->pos[h] = (uint32_t)sv->len;
	sv->hash[h] = hash;
	sv->live++;
}

static void sv_del(struct sieve *sv, uint32_t h, uint64_t hash)
{
	if (sv->pos[h] && sv->hash[h] == hash)
		sv_unlink(sv, h);
}

/* Forget every key (sv.lock held). */
static void sv_clear(struct sieve *sv)
{
	uint64_t i;

	for (i = 0; i < sv->len; i++)
		if (sv->log[i])
			sv->pos[sv->log[i]] = 0;
	sv->len = sv->live = sv->hand = 0;
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

	pthread_mutex_lock(&sv->lock);
	if (sv->on && e->ev == KVD_EV_FLUSH) {
		sv_clear(sv);
	} else if (sv->on && e->hint && e->hint < sv->nwords) {
		switch (e->ev) {
		case KVD_EV_SET:
			sv_add(sv, e->hint, e->hash);
			break;
		case KVD_EV_DEL:
		case KVD_EV_EXPIRE:
		case KVD_EV_EVICT:
			sv_del(sv, e->hint, e->hash);
			break;
		default:
			break;
		}
	}
	pthread_mutex_unlock(&sv->lock);
}

/*
 * Move the hand to the next unvisited key, clearing visited bits on the
 * way; false if the queue is empty. The bit is cleared with an atomic AND
 * on the shared word: a reader's concurrent store may put it back (the
 * key was just read: it deserves to stay) or drop a counter increment.
 */
static bool sv_pick(struct kvd_evict *ev, uint32_t *hint, uint64_t *hash)
{
	struct sieve *sv = &ev->sv;
	uint64_t steps, limit;
	bool found = false;

	pthread_mutex_lock(&sv->lock);
	limit = 2 * sv->len + 2;
	for (steps = 0; sv->live && steps < limit; steps++) {
		uint32_t h;

		if (sv->hand >= sv->len)
			sv->hand = 0;
		h = sv->log[sv->hand];
		if (!h) {
			sv->hand++;
			continue;
		}
		if (hint_word(ev, h) & KVS_HINT_VISITED) {
			__atomic_fetch_and(&ev->d->hints.words[h],
					   ~KVS_HINT_VISITED, __ATOMIC_RELAXED);
			sv->hand++;
			continue;
		}
		*hint = h;
		*hash = sv->hash[h];
		sv->hand++;
		found = true;
		break;
	}
	pthread_mutex_unlock(&sv->lock);
	return found;
}

static uint32_t evict_sieve(struct kvd_evict *ev, bool sync, uint32_t chunk)
{
	unsigned int tries;

	for (tries = 0; tries < PICK_TRIES; tries++) {
		uint32_t h, got;
		uint64_t hash;
		bool stale;

		if (!sv_pick(ev, &h, &hash))
			return 0;
		got = take_if_live(ev, KVD_POLICY_SIEVE, sync, hash, 0, h,
				   chunk, &stale);
		if (got)
			return got;
		if (stale) {	/* e.g. flushed: no event told us */
			pthread_mutex_lock(&ev->sv.lock);
			sv_del(&ev->sv, h, hash);
			pthread_mutex_unlock(&ev->sv.lock);
		}
	}
	return 0;
}

static int sieve_track(void *arg, uint64_t hash, const struct kvs_pos *pos,
		       const struct kvs_iref *r)
{
	struct sieve *sv = arg;

	(void)pos;
	if (r->hint && r->hint < sv->nwords) {
		pthread_mutex_lock(&sv->lock);
		sv_add(sv, r->hint, hash);
		pthread_mutex_unlock(&sv->lock);
	}
	return 0;
}

/* Start the queue (ev->lock held): events first, then the table. */
static int sieve_on(struct kvd_evict *ev)
{
	struct kvd_index *x = &ev->d->index;
	struct sieve *sv = &ev->sv;
	uint32_t si;

	sv->nwords = ev->d->hints.nwords;
	sv->pos = calloc(sv->nwords ? sv->nwords : 1, sizeof(*sv->pos));
	sv->hash = calloc(sv->nwords ? sv->nwords : 1, sizeof(*sv->hash));
	if (!sv->pos || !sv->hash) {
		free(sv->pos);
		free(sv->hash);
		sv->pos = NULL;
		sv->hash = NULL;
		return -ENOMEM;
	}
	pthread_mutex_lock(&sv->lock);
	sv->on = true;
	pthread_mutex_unlock(&sv->lock);
	/* A key written during the walk is added by its event or by the
	 * walk, whichever comes first; sv_add() ignores the second. */
	for (si = 0; si < x->nshards; si++) {
		kvd_index_lock(x, si);
		kvd_index_walk(x, si, 0, kvd_index_nbuckets(x, si),
			       sieve_track, sv);
		kvd_index_unlock(x, si);
	}
	return 0;
}

static void sieve_off(struct kvd_evict *ev)
{
	struct sieve *sv = &ev->sv;

	pthread_mutex_lock(&sv->lock);
	sv->on = false;
	free(sv->log);
	free(sv->pos);
	free(sv->hash);
	sv->log = NULL;
	sv->pos = NULL;
	sv->hash = NULL;
	sv->len = sv->cap = sv->live = sv->hand = 0;
	pthread_mutex_unlock(&sv->lock);
}

/* ---- a whole page ---------------------------------------------------- */

/*
 * Evict every live item of the class page with the fewest bytes in use
 * (ev->lock held), so that the page returns to the pool after a grace
 * period: with no free page, evicting items one by one frees chunks only
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
		bool stale;

		if (!klen || sizeof(*it) + extra + klen > size)
			continue;
		hash = kvs_hash(d->hdr->hash_seed,
				(const char *)(it + 1) + extra, klen);
		got += take_if_live(ev, policy, sync, hash, off, 0, 0, &stale);
	}
	return got;
}

/*
 * The sparsest page that holds an evictable item (the sparsest of all may
 * hold only a bucket array or retired items): evict its items. Return the
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
 * only a key whose item has that allocation size. Return the bytes of
 * the chunk it frees (after a grace period), 0 if nothing was evicted.
 */
static uint32_t evict_one(struct kvd_evict *ev, bool sync, uint32_t chunk)
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
		return evict_sampled(ev, p, sync, chunk);
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
			if (!evict_one(ev, true, 0))
				break;
			freed++;
		}
		pthread_mutex_unlock(&ev->lock);
		if (!freed)
			goto fail;
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
		got = evict_one(ev, true, chunk);
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
		got = evict_one(ev, false, 0);
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
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += BG_PERIOD_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
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
