// SPDX-License-Identifier: MIT
/*
 * libclient/read.c - the lock-free read path: read sections over the
 * calling thread's reader slot, and every read built on them.
 *
 * No system call on a hit or a miss: the section is two stores to our own
 * slot around the lookup (shm/epoch.h); the clock is read from the vDSO and
 * only for items that carry an expiry. The one exception is a thread's
 * first read on a handle, which asks the daemon for a slot.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "clock.h"
#include "epoch.h"
#include "glob.h"
#include "hash.h"
#include "hint.h"
#include "internal.h"
#include "table.h"

/* kvc_key_check()'s slow path: the error for @key, or 0 after all. */
int kvc_key_error(const struct kvshm *c, const void *key, size_t klen)
{
	if (!c || (!key && klen) || klen == 0)
		return KVSHM_EINVAL;
	if (klen > kvc_hdr(c)->max_key)
		return KVSHM_ETOOBIG;
	return 0;
}

/* Ask the current daemon for a reader slot; c->io_lock held. */
static int request_slot(struct kvshm *c, uint32_t *idx)
{
	struct kvc_reply rep;
	int rc;

	kvs_frame_begin(&c->req, KVS_OP_SLOT, 0, kvc_next_id(c), 0);
	rc = kvc_call(c, KVS_OP_SLOT, &rep);
	if (rc == 0) {
		*idx = kvs_get_u32(&rep.rd);
		if (kvs_rd_done(&rep.rd) < 0 || *idx >= c->cur->hdr->nslots)
			rc = KVSHM_EPROTO;
	}
	return rc;
}

/*
 * This thread's record for the handle it used last: one compare on the
 * read path instead of pthread_getspecific(). Handle ids are never reused,
 * so an entry left by a closed handle can never match a new one.
 *
 * It also stands for the fork check: it is set only by tls_find(), which
 * refuses a handle inherited across fork(), and cleared in the child by
 * the pthread_atfork() handler (the child's one thread is the one that
 * called fork()). So a match means the handle is this process's own.
 */
static __thread struct {
	uint64_t id;
	struct kvc_tls *t;
} tls_last __attribute__((tls_model("initial-exec")));

void kvc_tls_forget(struct kvc_tls *t)
{
	if (tls_last.t == t) {
		tls_last.id = 0;
		tls_last.t = NULL;
	}
}

void kvc_tls_fork_child(void)
{
	tls_last.id = 0;
	tls_last.t = NULL;
}

/*
 * The slow path of finding this thread's record for @c, when @c is not
 * the handle it used last (tls_last): its record for @c, made (with no
 * slot yet) on first use. NULL, with *@rc set, if that fails or if @c
 * was inherited across fork() (KVSHM_EINVAL).
 */
static __attribute__((noinline)) struct kvc_tls *
tls_find(struct kvshm *c, int *rc)
{
	struct kvc_tls *t, *best = NULL;

	if (kvc_forked(c)) {
		*rc = KVSHM_EINVAL;
		return NULL;
	}

	t = pthread_getspecific(c->key);
	if (t) {
		tls_last.id = c->id;
		tls_last.t = t;
		return t;
	}
	/* Reuse a free record, one that holds a slot of the current
	 * daemon by preference: slots are what is scarce. */
	pthread_mutex_lock(&c->tls_lock);
	for (t = c->recs; t; t = t->next) {
		if (t->in_use)
			continue;
		if (!best || (t->att == c->cur && best->att != c->cur) ||
		    (t->att && !best->att))
			best = t;
	}
	t = best;
	if (t)
		t->in_use = true;
	pthread_mutex_unlock(&c->tls_lock);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t) {
			errno = ENOMEM;
			*rc = KVSHM_ESYS;
			return NULL;
		}
		t->c = c;
		t->rnd = (uintptr_t)t;	/* any seed: see touch_word() */
		t->in_use = true;
		pthread_mutex_lock(&c->tls_lock);
		t->next = c->recs;
		c->recs = t;
		pthread_mutex_unlock(&c->tls_lock);
	}
	if (pthread_setspecific(c->key, t)) {
		pthread_mutex_lock(&c->tls_lock);
		t->in_use = false;
		pthread_mutex_unlock(&c->tls_lock);
		errno = ENOMEM;
		*rc = KVSHM_ESYS;
		return NULL;
	}
	tls_last.id = c->id;
	tls_last.t = t;
	return t;
}

/* Bind @t to attachment @a and @slot (in @a's rw area, or t->own). */
static void bind_att(struct kvshm *c, struct kvc_tls *t, struct kvc_att *a,
		     struct kvs_slot *slot)
{
	pthread_mutex_lock(&c->tls_lock);
	if (t->att != a) {
		if (t->att)
			kvc_att_put(c, t->att);
		a->refs++;
		t->att = a;
	}
	t->quick = a->quick ? a : NULL;
	t->slot = slot;
	pthread_mutex_unlock(&c->tls_lock);
}

/*
 * rebind - the slow path of a read section's entry, at depth 0: @t has no
 * slot yet, a newer daemon than @t's is attached, or the daemon behind
 * @t's attachment is gone. Reattach if a new daemon serves, and move @t
 * to the current attachment with a slot from its daemon.
 *
 * A thread never reads an attachment older than the current one: that
 * could return data older than a write this process was told is stored.
 * If the current daemon cannot give a slot, @t reads the current segment
 * with a slot of its own if that segment's daemon is known to be gone
 * (superseded: nothing in it is reclaimed any more), and fails with
 * KVSHM_EDAEMON otherwise.
 *
 * A thread already on the current attachment, whose daemon is just gone,
 * does not wait for io_lock: if another thread is talking to the daemon,
 * it reads what it has (the last data) and tries again at its next
 * section.
 */
static __attribute__((noinline)) int rebind(struct kvshm *c, struct kvc_tls *t)
{
	struct kvc_att *cur;
	uint32_t idx;
	int rc;

	if (t->att && t->att == __atomic_load_n(&c->cur, __ATOMIC_ACQUIRE) &&
	    !(c->flags & KVSHM_OPEN_NO_STALE)) {
		if (pthread_mutex_trylock(&c->io_lock))
			return 0;
	} else {
		pthread_mutex_lock(&c->io_lock);
	}
	kvc_reattach(c);
	cur = c->cur;
	if (t->att != cur) {
		rc = request_slot(c, &idx);
		/* The slot is the current daemon's as of the reply: the
		 * request itself may have reattached. */
		cur = c->cur;
		if (rc == 0) {
			bind_att(c, t, cur, &cur->slots[idx]);
		} else if (kvs_load_acquire(&cur->hdr->superseded)) {
			bind_att(c, t, cur, &t->own);
		} else {
			pthread_mutex_unlock(&c->io_lock);
			return rc;
		}
	}
	pthread_mutex_unlock(&c->io_lock);
	if ((c->flags & KVSHM_OPEN_NO_STALE) &&
	    kvs_load_acquire(&t->att->hdr->superseded))
		return KVSHM_EDAEMON;
	return 0;
}

/*
 * Enter a (possibly nested) read section. The fast path is three loads:
 * this thread's attachment, the handle's current one (the same unless a
 * new daemon was attached; never NULL, so a record with no attachment
 * yet fails this compare too) and its header's superseded word (0 while
 * its daemon serves; a line no one writes otherwise).
 */
static inline __attribute__((always_inline)) int
section_enter(struct kvshm *c, struct kvc_tls **tp)
{
	struct kvc_tls *t;
	struct kvc_att *a;
	int rc;

	*tp = NULL;
	/*
	 * This thread's record: one compare when @c is the last handle,
	 * which also tells @c was not inherited across fork() (tls_last).
	 */
	if (__builtin_expect(tls_last.id == c->id, 1))
		t = tls_last.t;
	else if (!(t = tls_find(c, &rc)))
		return rc;
	if (__builtin_expect(t->depth == 0, 1)) {
		a = t->att;
		if (__builtin_expect(a != __atomic_load_n(&c->cur,
							  __ATOMIC_ACQUIRE) ||
				     kvs_load_acquire(&a->hdr->superseded), 0)) {
			if ((rc = rebind(c, t)))
				return rc;
			a = t->att;
		}
		kvs_read_enter(a->hdr, t->slot, a->fenced);
		t->depth = 1;
	} else {
		t->depth++;
	}
	*tp = t;
	return 0;
}

/*
 * section_renew - what section_exit() and view_find() do when kvshmd
 * revoked @t's section (shm/epoch.h). A section of depth 1 ends
 * here; a nested one (inside kvshm_read_lock()) goes on with a fresh
 * epoch, as if just entered, and @t remembers that views taken before
 * may be stale. Either way the caller reads again.
 */
static __attribute__((noinline)) void section_renew(struct kvc_tls *t)
{
	if (t->depth == 1) {
		t->depth = 0;
		kvs_read_exit(t->slot);
		return;
	}
	t->revoked = true;
	kvs_read_enter(t->att->hdr, t->slot, t->att->fenced);
	t->depth--;
}

/*
 * Leave a section; false if it was revoked, in which case what it read
 * may be reused memory: the caller drops it, and reads again in a new
 * section. Three loads and a compare on the fast path, no fence.
 */
static inline __attribute__((always_inline, warn_unused_result)) bool
section_exit(struct kvc_tls *t)
{
	if (__builtin_expect(kvs_read_revoked(t->slot), 0)) {
		section_renew(t);
		return false;
	}
	if (--t->depth == 0)
		kvs_read_exit(t->slot);
	return true;
}

/*
 * A read whose section was revoked reads again, in a new or renewed
 * section, at most KVC_RENEW_MAX times in a row; then it fails with
 * KVSHM_EREVOKED (a read that takes longer than the daemon's
 * --reader-revoke-ms every time would otherwise go on for ever).
 */
#define KVC_RENEW_MAX	8

static inline bool renew_again(unsigned int *tries, int *rc)
{
	if (++*tries <= KVC_RENEW_MAX)
		return true;
	*rc = KVSHM_EREVOKED;
	return false;
}

/* Single-writer counters in our own slot: a plain load and store. */
static void count(uint64_t *ctr)
{
	kvs_store_relaxed(ctr, kvs_load_relaxed(ctr) + 1);
}

/*
 * Leave the access hint of a key just read (shm/hint.h) as @mode wants it
 * (KVS_HINTS_ALL or _VISITED): stored only when the word changes, so a
 * hot key's line is not written on every read.
 *
 * The counter's coin is the top half of a 64-bit LCG (Knuth's MMIX
 * multiplier; any odd increment gives the full period 2^64), uniform
 * over 32 bits as kvs_hint_touch() needs: a multiply and an add per hit
 * instead of three xorshift steps.
 */
static inline __attribute__((always_inline)) void
touch_word(struct kvc_tls *t, struct kvc_att *a, uint64_t idx, uint32_t mode)
{
	uint32_t *w, old, nw;

	w = &a->hints[idx];		/* idx < nhints: see rw_check() */
	old = kvs_load_relaxed(w);
	if (mode == KVS_HINTS_VISITED) {
		/* sieve reads the bit alone; its hand clears it */
		if (!(old & KVS_HINT_VISITED))
			kvs_store_relaxed(w, old | KVS_HINT_VISITED);
		return;
	}
	t->rnd = t->rnd * 6364136223846793005ULL + 1;
	nw = kvs_hint_touch(old, kvs_load_relaxed(a->clock_tick),
			     (uint32_t)(t->rnd >> 32));
	if (nw != old)
		kvs_store_relaxed(w, nw);
}

/*
 * What the eviction policy of the moment reads of the access hints
 * (hdr->hint_mode, KVS_HINTS_*): with KVS_HINTS_NONE a GET leaves none
 * and skips the prefetch of the word's line too.
 */
static inline __attribute__((always_inline)) uint32_t
hint_mode(const struct kvc_att *a)
{
	return kvs_load_relaxed(&a->hdr->hint_mode);
}

/*
 * An item's expiry has passed. Out of line: the clock's struct timespec
 * would otherwise take a stack slot in every read function, and most
 * items carry no expiry.
 */
static __attribute__((noinline)) bool expired(int64_t expire_ms)
{
	return expire_ms <= kvs_now_ms();
}

/*
 * Find the live item for @key inside a section; false if absent/expired.
 * @version: fill r->version too (only the _meta calls report it).
 */
static inline __attribute__((always_inline)) bool
find(struct kvc_tls *t, const void *key, size_t klen, struct kvs_iref *r,
     bool version)
{
	struct kvc_att *a = t->att;
	uint64_t h = kvs_hash(a->hash_seed, key, klen);
	uint32_t hm = hint_mode(a);
	bool hit = kvs_lookup_read(&a->map, h, key, klen, NULL, r, version,
				   hm != KVS_HINTS_NONE);

	if (hit && r->expire_ms && expired(r->expire_ms))
		hit = false;
	count(hit ? &t->slot->hits : &t->slot->misses);
	if (hit && hm != KVS_HINTS_NONE)
		touch_word(t, a, r->hint, hm);
	return hit;
}

/* 16 bytes, loaded whole then stored whole (movdqu with SSE2). */
struct kvc_16 {
	char b[16];
};

static inline __attribute__((always_inline)) void
copy16(char *d, const char *s, size_t at)
{
	struct kvc_16 v;

	memcpy(&v, s + at, sizeof(v));
	memcpy(d + at, &v, sizeof(v));
}

/*
 * copy_value - memcpy() of a value, with the sizes of 16 to 128 bytes
 * copied inline: the first and the last 16, 32 or 64 bytes, which
 * overlap in the middle. No call, so the fast path of kvshm_get() keeps
 * what it needs in caller-saved registers.
 */
static inline __attribute__((always_inline)) void
copy_value(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;

	if (n - 16 > 128 - 16) {
		if (n)
			memcpy(dst, src, n);
	} else if (n <= 32) {
		copy16(d, s, 0);
		copy16(d, s, n - 16);
	} else if (n <= 64) {
		copy16(d, s, 0);
		copy16(d, s, 16);
		copy16(d, s, n - 32);
		copy16(d, s, n - 16);
	} else {
		copy16(d, s, 0);
		copy16(d, s, 16);
		copy16(d, s, 32);
		copy16(d, s, 48);
		copy16(d, s, n - 64);
		copy16(d, s, n - 48);
		copy16(d, s, n - 32);
		copy16(d, s, n - 16);
	}
}

/*
 * copy_out - what a GET returns of the value @r it found: its length in
 * *@vlen (if given), and the value in @buf if it fits in @cap bytes
 * (else KVSHM_ETOOSMALL, @buf untouched).
 */
static inline __attribute__((always_inline)) int
copy_out(const struct kvs_iref *r, void *buf, size_t cap, size_t *vlen)
{
	if (vlen)
		*vlen = r->vlen;
	if (r->vlen > cap)
		return KVSHM_ETOOSMALL;
	copy_value(buf, r->val, r->vlen);
	return 0;
}

/* One GET inside @t's section: 0 or a KVSHM_E* code. */
static inline __attribute__((always_inline)) int
get_in(struct kvc_tls *t, const void *key, size_t klen, void *buf,
       size_t cap, size_t *vlen)
{
	struct kvs_iref r;

	if (!find(t, key, klen, &r, false))
		return KVSHM_ENOTFOUND;
	return copy_out(&r, buf, cap, vlen);
}

/*
 * kvshm_get() after its first section was revoked: read again, in new
 * sections, as renew_again() allows. Out of line, so that the retry
 * loop's state takes no register from the first attempt.
 */
static __attribute__((noinline)) int
get_again(kvshm_t *c, const void *key, size_t klen, void *buf, size_t cap,
	  size_t *vlen)
{
	unsigned int tries = 0;
	struct kvc_tls *t;
	int rc = KVSHM_EREVOKED;

	while (renew_again(&tries, &rc)) {
		if ((rc = section_enter(c, &t)))
			return rc;
		rc = get_in(t, key, klen, buf, cap, vlen);
		if (section_exit(t))
			break;
	}
	return rc;
}

/*
 * get_full - kvshm_get() in every case: any handle, section depth, key
 * length, probe length, expiry or read mode. flatten: every call below
 * that can be inlined is, down to XXH3's short-key path (shm/hash.h);
 * what must stay out of line (the slow paths of section_enter(), the
 * clock of expired(), the hash of a long key, a revoked section's
 * retries) is marked noinline.
 */
static __attribute__((noinline, flatten)) int
get_full(kvshm_t *c, const void *key, size_t klen, void *buf, size_t cap,
	 size_t *vlen)
{
	struct kvc_tls *t;
	int rc;

	if ((rc = kvc_key_check(c, key, klen)) || (!buf && cap))
		return rc ? rc : KVSHM_EINVAL;
	if ((rc = section_enter(c, &t)))
		return rc;
	rc = get_in(t, key, klen, buf, cap, vlen);
	if (__builtin_expect(!section_exit(t), 0))
		return get_again(c, key, klen, buf, cap, vlen);
	return rc;
}

/*
 * kvshm_get - the common case in a short function, everything else in
 * get_full(), which starts over: a GET of a key of 9 to 16 bytes by the
 * thread's last handle, outside any section, on the current attachment
 * in membarrier mode, that finds the key in the first entry of its home
 * bucket that carries its tag, in an item with no expiry, or finds it
 * absent there (kvs_lookup_quick()).
 *
 * Short because the CPU's window over outstanding misses is counted in
 * instructions: the fewer a GET takes, the more GETs' misses overlap
 * (BENCHMARKS.md). So the section's depth is stored but not counted
 * (nothing runs inside this section but this function), and the revoked
 * check compares with the epoch stored at entry.
 */
__attribute__((flatten))
int kvshm_get(kvshm_t *c, const void *key, size_t klen,
	      void *buf, size_t cap, size_t *vlen)
{
	struct kvc_tls *t;
	struct kvc_att *a;
	struct kvs_slot *s;
	struct kvs_iref r;
	uint64_t ep;
	uint32_t hm;
	int i, rc = 0;

	if (__builtin_expect(!c || !key || klen - 9 > 16 - 9 ||
			     (!buf && cap) || tls_last.id != c->id, 0))
		return get_full(c, key, klen, buf, cap, vlen);
	t = tls_last.t;
	a = t->quick;
	if (__builtin_expect(a != __atomic_load_n(&c->cur, __ATOMIC_ACQUIRE) ||
			     t->depth ||
			     kvs_load_acquire(&a->hdr->superseded), 0))
		return get_full(c, key, klen, buf, cap, vlen);
	s = t->slot;
	ep = kvs_read_enter(a->hdr, s, false);	/* a->quick: not fenced */
	t->depth = 1;
	hm = hint_mode(a);
	i = kvs_lookup_quick(&a->map, XXH3_64bits_withSeed(key, klen,
							   a->hash_seed),
			     key, klen, &r, hm != KVS_HINTS_NONE);
	if (i >= 0) {
		count(&s->hits);
		if (hm != KVS_HINTS_NONE)
			touch_word(t, a, r.hint, hm);
		rc = copy_out(&r, buf, cap, vlen);
	} else if (i == KVS_LOOKUP_ABSENT) {
		count(&s->misses);
		rc = KVSHM_ENOTFOUND;
	}
	if (kvs_read_revoked_at(s, ep))
		i = KVS_LOOKUP_FURTHER;
	t->depth = 0;
	kvs_read_exit(s);
	/* Not for this path, or revoked: get_full() reads again. */
	if (__builtin_expect(i == KVS_LOOKUP_FURTHER, 0))
		return get_full(t->c, key, klen, buf, cap, vlen);
	return rc;
}

/*
 * meta_size - how many bytes of @m the caller owns (struct_size; 0 is the
 * first version's size), or 0 if that is too small to hold it.
 */
static size_t meta_size(const struct kvshm_meta *m)
{
	size_t n;

	if (!m)
		return 0;
	n = m->struct_size ? m->struct_size : KVSHM_META_SIZE_VER0;
	return n < KVSHM_META_SIZE_VER0 ? 0 : n;
}

/*
 * Fill @m from the item @r as read at @now: every field from the same one
 * reading. Bytes past the fields this library knows, up to @size, are
 * zeroed; nothing past @size is touched.
 */
static void meta_fill(struct kvshm_meta *m, size_t size,
		      const struct kvs_iref *r, int64_t now)
{
	struct kvshm_meta out = {
		.struct_size = m->struct_size,
		.vlen = r->vlen,
		.ttl_ms = -1,
		.expire_ms = r->expire_ms,
		.version = r->version,
	};

	if (r->expire_ms) {
		int64_t left = r->expire_ms - now;

		out.flags |= KVSHM_META_TTL;
		out.ttl_ms = left < 1 ? 1 : left;
	}
	memcpy(m, &out, sizeof(out));
	if (size > sizeof(out))
		memset((char *)m + sizeof(out), 0, size - sizeof(out));
}

int kvshm_get_meta(kvshm_t *c, const void *key, size_t klen,
		   void *buf, size_t cap, struct kvshm_meta *m)
{
	size_t msize = meta_size(m);
	unsigned int tries = 0;
	struct kvs_iref r;
	struct kvc_tls *t;
	int rc;

	if ((rc = kvc_key_check(c, key, klen)))
		return rc;
	if (!msize || (!buf && cap))
		return KVSHM_EINVAL;
	do {
		if ((rc = section_enter(c, &t)))
			return rc;
		if (!find(t, key, klen, &r, true)) {
			rc = KVSHM_ENOTFOUND;
		} else {
			meta_fill(m, msize, &r, r.expire_ms ? kvs_now_ms() : 0);
			if (buf && r.vlen > cap)
				rc = KVSHM_ETOOSMALL;
			else if (buf && r.vlen)
				memcpy(buf, r.val, r.vlen);
		}
	} while (!section_exit(t) && renew_again(&tries, &rc));
	return rc;
}

int kvshm_get_alloc(kvshm_t *c, const void *key, size_t klen,
		    void **val, size_t *vlen)
{
	struct kvs_iref r;
	struct kvc_tls *t;
	char *p = NULL;
	size_t n = 0;
	int rc;

	if ((rc = kvc_key_check(c, key, klen)) || !val)
		return rc ? rc : KVSHM_EINVAL;
	*val = NULL;
	for (unsigned int tries = 0;;) {
		if ((rc = section_enter(c, &t)))
			return rc;
		if (!find(t, key, klen, &r, false)) {
			rc = KVSHM_ENOTFOUND;
		} else {
			/* malloc inside the section is fine: it only delays
			 * reclamation a little, and never blocks on the
			 * daemon. */
			n = r.vlen;
			p = malloc(n + 1);
			if (p) {
				memcpy(p, r.val, n);
				p[n] = '\0';
			} else {
				errno = ENOMEM;
				rc = KVSHM_ESYS;
			}
		}
		if (section_exit(t))
			break;
		free(p);		/* revoked: read again */
		p = NULL;
		if (!renew_again(&tries, &rc))
			break;
	}
	if (rc == 0) {
		*val = p;
		if (vlen)
			*vlen = n;
	}
	return rc;
}

int kvshm_exists(kvshm_t *c, const void *key, size_t klen)
{
	unsigned int tries = 0;
	struct kvs_iref r;
	struct kvc_tls *t;
	int rc;

	if ((rc = kvc_key_check(c, key, klen)))
		return rc;
	do {
		if ((rc = section_enter(c, &t)))
			return rc;
		rc = find(t, key, klen, &r, false) ? 0 : KVSHM_ENOTFOUND;
	} while (!section_exit(t) && renew_again(&tries, &rc));
	return rc;
}

int kvshm_ttl(kvshm_t *c, const void *key, size_t klen, int64_t *ttl_ms)
{
	unsigned int tries = 0;
	struct kvs_iref r;
	struct kvc_tls *t;
	int rc;

	if ((rc = kvc_key_check(c, key, klen)) || !ttl_ms)
		return rc ? rc : KVSHM_EINVAL;
	do {
		if ((rc = section_enter(c, &t)))
			return rc;
		if (!find(t, key, klen, &r, false)) {
			rc = KVSHM_ENOTFOUND;
		} else {
			int64_t left = r.expire_ms - kvs_now_ms();

			*ttl_ms = r.expire_ms == 0 ? -1 : (left < 1 ? 1 : left);
		}
	} while (!section_exit(t) && renew_again(&tries, &rc));
	return rc;
}

int kvshm_strlen(kvshm_t *c, const void *key, size_t klen, size_t *len)
{
	unsigned int tries = 0;
	struct kvs_iref r;
	struct kvc_tls *t;
	int rc;

	if ((rc = kvc_key_check(c, key, klen)) || !len)
		return rc ? rc : KVSHM_EINVAL;
	do {
		if ((rc = section_enter(c, &t)))
			return rc;
		if (find(t, key, klen, &r, false))
			*len = r.vlen;
		else
			rc = KVSHM_ENOTFOUND;
	} while (!section_exit(t) && renew_again(&tries, &rc));
	return rc;
}

int kvshm_mget(kvshm_t *c, struct kvshm_getv *v, size_t n)
{
	unsigned int tries = 0;
	struct kvs_iref r;
	struct kvc_tls *t;
	size_t i;
	int rc;

	if (!c || (!v && n))
		return KVSHM_EINVAL;
	do {
		if ((rc = section_enter(c, &t)))
			break;
		for (i = 0; i < n; i++) {
			v[i].vlen = 0;
			if ((v[i].rc = kvc_key_check(c, v[i].key, v[i].klen)))
				continue;
			if (!v[i].buf && v[i].cap) {
				v[i].rc = KVSHM_EINVAL;
			} else if (!find(t, v[i].key, v[i].klen, &r, false)) {
				v[i].rc = KVSHM_ENOTFOUND;
			} else {
				v[i].vlen = r.vlen;
				if (r.vlen > v[i].cap)
					v[i].rc = KVSHM_ETOOSMALL;
				else if (r.vlen)
					memcpy(v[i].buf, r.val, r.vlen);
			}
		}
	} while (!section_exit(t) && renew_again(&tries, &rc));
	if (rc) {
		/* No section (a retry's), or revoked too often: nothing
		 * read stands. */
		for (i = 0; i < n; i++) {
			v[i].vlen = 0;
			v[i].rc = rc;
		}
	}
	return rc;
}

int kvshm_read_lock(kvshm_t *c)
{
	struct kvc_tls *t;

	if (!c)
		return KVSHM_EINVAL;
	return section_enter(c, &t);
}

int kvshm_read_unlock(kvshm_t *c)
{
	struct kvc_tls *t;
	bool ok;

	if (!c || kvc_forked(c))
		return KVSHM_EINVAL;
	t = pthread_getspecific(c->key);
	if (!t || !t->depth)
		return KVSHM_EINVAL;
	ok = section_exit(t);
	if (t->depth)
		return 0;	/* nested: the outermost unlock reports */
	if (t->revoked) {
		t->revoked = false;
		ok = false;
	}
	return ok ? 0 : KVSHM_EREVOKED;
}

/*
 * view_find - look @key up inside this thread's open read section (the
 * section keeps what @r points at alive). @ok: the caller's own
 * arguments are valid; @version as for find(). Return 0,
 * KVSHM_ENOTFOUND or KVSHM_EINVAL.
 */
static int view_find(kvshm_t *c, const void *key, size_t klen, bool ok,
		     struct kvs_iref *r, bool version)
{
	struct kvc_tls *t;
	int rc;

	if ((rc = kvc_key_check(c, key, klen)) || !ok)
		return rc ? rc : KVSHM_EINVAL;
	t = pthread_getspecific(c->key);
	if (!t || t->depth == 0 || kvc_forked(c))
		return KVSHM_EINVAL;
	for (unsigned int tries = 0;;) {
		rc = find(t, key, klen, r, version) ? 0 : KVSHM_ENOTFOUND;
		if (!kvs_read_revoked(t->slot) || !renew_again(&tries, &rc))
			return rc;
		/* Revoked: renew the section (one level deeper, so that
		 * section_renew() keeps it open) and look again. */
		t->depth++;
		section_renew(t);
	}
}

int kvshm_view(kvshm_t *c, const void *key, size_t klen,
	       const void **val, size_t *vlen)
{
	struct kvs_iref r;
	int rc = view_find(c, key, klen, val != NULL, &r, false);

	if (rc)
		return rc;
	*val = r.val;
	if (vlen)
		*vlen = r.vlen;
	return 0;
}

int kvshm_view_meta(kvshm_t *c, const void *key, size_t klen,
		    const void **val, struct kvshm_meta *m)
{
	size_t msize = meta_size(m);
	struct kvs_iref r;
	int rc = view_find(c, key, klen, msize != 0, &r, true);

	if (rc)
		return rc;
	meta_fill(m, msize, &r, r.expire_ms ? kvs_now_ms() : 0);
	if (val)
		*val = r.val;
	return 0;
}

/* Keys collected from one shard: u32 length + bytes, back to back. */
struct keybuf {
	char *p;
	size_t len, cap;
};

static int keybuf_add(struct keybuf *kb, const char *key, uint32_t klen)
{
	if (kb->cap - kb->len < sizeof(klen) + klen) {
		size_t cap = kb->cap ? kb->cap * 2 : 4096;
		char *p;

		while (cap - kb->len < sizeof(klen) + klen)
			cap *= 2;
		p = realloc(kb->p, cap);
		if (!p)
			return -1;
		kb->p = p;
		kb->cap = cap;
	}
	memcpy(kb->p + kb->len, &klen, sizeof(klen));
	memcpy(kb->p + kb->len + sizeof(klen), key, klen);
	kb->len += sizeof(klen) + klen;
	return 0;
}

/*
 * Scan cursor: shard:16 | size code of the shard's array:17 | bucket:28 |
 * slot:3, the next entry to look at. 0 starts a walk, and is what the
 * caller gets back when the walk is complete. Inside one published bucket
 * array a key never moves (deletions do not shift others), so positions
 * are exact; if the shard grew since the cursor was made (its size no
 * longer matches: a shard's arrays only grow, so the size names the
 * array) the walk restarts that shard: keys may repeat, none is skipped.
 */
#define CUR_SHARD_SHIFT	48
#define CUR_SIZE_SHIFT	31
#define CUR_SIZE_MASK	((1ULL << 17) - 1)
#define CUR_POS_MASK	((1ULL << CUR_SIZE_SHIFT) - 1)

/*
 * The bucket count @n (1 .. KVS_BUCKETS_MAX, mant << shift) in 17 bits,
 * one code per count: counts below 2^14 stand for themselves; above, the
 * mantissa has its top bit set, so its low 13 bits and the shift (1..14)
 * say it all, as (shift << 13) + mantissa, which is at least 2^14.
 */
static uint64_t cur_size_code(uint64_t n)
{
	unsigned int s = 0;

	while (n >> s >= 1ULL << KVS_BARRAY_MANT_BITS)
		s++;
	return s ? ((uint64_t)s << 13) + (n >> s) : n;
}

static bool scan_match(const struct kvshm_scan_opts *o, const struct kvs_iref *r)
{
	size_t n;
	int cmp;

	if (o->prefix_len && (r->klen < o->prefix_len ||
			      memcmp(r->key, o->prefix, o->prefix_len) != 0))
		return false;
	if (o->min) {
		n = r->klen < o->min_len ? r->klen : o->min_len;
		cmp = memcmp(r->key, o->min, n);
		if (cmp < 0 || (cmp == 0 && r->klen < o->min_len))
			return false;
	}
	if (o->max) {
		n = r->klen < o->max_len ? r->klen : o->max_len;
		cmp = memcmp(r->key, o->max, n);
		if (cmp > 0 || (cmp == 0 && r->klen >= o->max_len))
			return false;
	}
	return !o->pattern ||
	       kvs_glob_match(o->pattern, strlen(o->pattern), r->key, r->klen);
}

/*
 * Copy matching keys of shard @s from cursor @cur into @kb, inside one
 * read section, until *@got reaches @want (0: no limit). *@next is set to
 * the position to go on from within this shard, or UINT64_MAX when the
 * shard is done. Return: 0 or a KVSHM_E* code.
 */
#define SCAN_MOVED	1	/* scan_shard(): the handle reattached */

static int scan_shard(struct kvshm *c, uint32_t s, uint64_t cur,
		      const struct kvshm_scan_opts *o, size_t want,
		      struct keybuf *kb, size_t *got, uint64_t *next,
		      struct kvc_att **att)
{
	struct kvs_barray_view v;
	struct kvc_tls *t;
	int64_t now = kvs_now_ms();
	uint64_t pos = 0, b, code;
	size_t len0 = kb->len, got0 = *got;
	struct kvc_att *att0 = *att;
	unsigned int i, tries = 0;
	int rc;

again:
	*next = UINT64_MAX;
	if ((rc = section_enter(c, &t)))
		return rc;
	/* Another daemon's table (other seed, other shards): start again. */
	if (*att && *att != t->att) {
		*att = t->att;
		rc = SCAN_MOVED;
		goto out;
	}
	*att = t->att;
	if (kvs_shard_array(&t->att->map, s, &v) != 0)
		goto out;
	code = cur_size_code(v.n);
	if (((cur >> CUR_SIZE_SHIFT) & CUR_SIZE_MASK) == code)
		pos = cur & CUR_POS_MASK;	/* same array: resume exactly */
	for (b = pos >> 3; b < v.n; b++) {
		for (i = b == pos >> 3 ? pos & 7 : 0; i < KVS_BUCKET_ENTRIES; i++) {
			uint64_t e = kvs_load_acquire(&v.b[b].ent[i]);
			struct kvs_iref r;

			if (want && *got == want) {
				*next = (code << CUR_SIZE_SHIFT) | (b << 3) | i;
				goto out;
			}
			if (!kvs_ent_off(e) || kvs_item_ref(&t->att->map, e, &r) ||
			    kvs_iref_expired(&r, now) || !scan_match(o, &r))
				continue;
			if (keybuf_add(kb, r.key, r.klen)) {
				errno = ENOMEM;
				rc = KVSHM_ESYS;
				goto out;
			}
			(*got)++;
		}
	}
out:
	if (!section_exit(t)) {
		/* Revoked: drop what this section collected. */
		kb->len = len0;
		*got = got0;
		*att = att0;
		*next = UINT64_MAX;
		pos = 0;
		if (renew_again(&tries, &rc))
			goto again;
	}
	return rc;
}

int kvshm_scan(kvshm_t *c, uint64_t *cursor, const struct kvshm_scan_opts *opts,
	       int (*cb)(const void *key, size_t klen, void *arg), void *arg)
{
	static const struct kvshm_scan_opts none;
	const struct kvshm_scan_opts *o = opts ? opts : &none;
	struct keybuf kb = { 0 };
	struct kvc_att *att = NULL;
	uint64_t cur, next = 0;
	uint32_t s, nshards;
	size_t got = 0;
	int rc = 0;

	if (!c || !cursor || !cb || (o->prefix_len && !o->prefix))
		return KVSHM_EINVAL;
	nshards = kvc_hdr(c)->nshards;
	cur = *cursor;
	s = (uint32_t)(cur >> CUR_SHARD_SHIFT);
	if (s >= nshards)
		return KVSHM_EINVAL;	/* not a cursor of this cache */
	for (; s < nshards && rc == 0; s++, cur = 0) {
		size_t pos = 0;

		kb.len = 0;
		rc = scan_shard(c, s, cur, o, o->limit, &kb, &got, &next, &att);
		if (rc == SCAN_MOVED) {
			/*
			 * The daemon was replaced during the walk: positions
			 * in the old table mean nothing in the new one, so
			 * walk the new one from the start (keys may repeat;
			 * none is skipped). A cursor from an earlier call
			 * cannot be told apart; see kvshm_scan(3).
			 */
			nshards = kvc_hdr(c)->nshards;
			s = UINT32_MAX;		/* the loop's s++ makes it 0 */
			got = 0;
			rc = 0;
			continue;
		}
		while (rc == 0 && pos < kb.len) {
			uint32_t klen;

			memcpy(&klen, kb.p + pos, sizeof(klen));
			rc = cb(kb.p + pos + sizeof(klen), klen, arg);
			pos += sizeof(klen) + klen;
		}
		if (next != UINT64_MAX)
			break;			/* limit reached inside s */
	}
	free(kb.p);
	if (rc == 0) {
		if (s >= nshards)
			*cursor = 0;		/* the walk is complete */
		else if (next != UINT64_MAX)
			*cursor = ((uint64_t)s << CUR_SHARD_SHIFT) | next;
		else
			*cursor = (uint64_t)s << CUR_SHARD_SHIFT;
	}
	return rc;
}

int kvshm_keys(kvshm_t *c, const char *pattern,
	       int (*cb)(const void *key, size_t klen, void *arg), void *arg)
{
	struct kvshm_scan_opts o = { 0 };
	uint64_t cursor = 0;

	if (pattern && strcmp(pattern, "*") != 0)
		o.pattern = pattern;
	/* No limit: one call walks every shard, each in one read section. */
	return kvshm_scan(c, &cursor, &o, cb, arg);
}
