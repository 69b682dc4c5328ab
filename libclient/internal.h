/* SPDX-License-Identifier: MIT */
/*
 * libclient/internal.h - libkvshm's private structures: the handle, the
 * per-thread reader record, the write channel. Never installed.
 */
#ifndef KVC_INTERNAL_H
#define KVC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"
#include "kvshm.h"
#include "layout.h"

/*
 * An attachment: one daemon's pair of segments as this process mapped
 * them, and what was checked about them. A handle reads through its
 * current attachment; when a new kvshmd serves the name, the library
 * attaches to it and makes that one current (reattach). An old
 * attachment stays mapped while a thread record is still bound to it,
 * since that thread may be inside a read section on it, and is unmapped
 * when the last one moves on (or at kvshm_close()). Nothing in it changes
 * after attach() but @refs and @next.
 */
struct kvc_att {
	struct kvs_map map;		/* PROT_READ mapping of the data */
	const struct kvs_header *hdr;
	void *rw;
	size_t rw_size;
	struct kvs_slot *slots;
	uint32_t *hints;		/* access-hint words, hdr->nhints,
					 * which is size / 8 (rw_check()) */
	const uint32_t *clock_tick;	/* &hdr->clock_tick: one load, not
					 * two, for a hit's access hint (when
					 * hdr->hint_mode wants the time) */
	uint32_t max_key;		/* hdr->max_key at attach: a floor,
					 * since kvshmd only raises it */
	uint64_t hash_seed;		/* hdr->hash_seed (const) */
	bool fenced;			/* full fence after the epoch store */
	bool quick;			/* kvshm_get()'s short path serves:
					 * !fenced, and max_key >= 16 */
	uint64_t generation;
	unsigned int refs;		/* tls_lock: bound records, +1 while
					 * current */
	struct kvc_att *next;		/* tls_lock: the handle's list */
};

/*
 * A thread's reader record for one handle: the attachment it reads
 * through, its slot in that attachment's rw area, and its read-section
 * depth. Records are owned by the handle and recycled when a thread exits
 * (the pthread key's destructor marks them free), so the slot the daemon
 * assigned stays with the process until kvshm_close().
 *
 * @att and @slot are written only at depth 0 (rebinding to a newer
 * attachment) by the thread using the record, under tls_lock, or by
 * another thread under tls_lock when the record is not in use.
 */
struct kvc_tls {
	struct kvshm *c;
	struct kvc_att *att;		/* NULL: no slot yet */
	struct kvs_slot *slot;		/* in att's rw area, or &own */
	struct kvc_att *quick;		/* att if att->quick, else NULL:
					 * kvshm_get()'s short path (written
					 * with att) */
	/*
	 * A slot of our own, in private memory, for reading a segment whose
	 * daemon is known to be gone (superseded: stopped or replaced), where
	 * no one reclaims anything, when the current daemon cannot give us
	 * a slot.
	 */
	struct kvs_slot own;
	unsigned int depth;
	bool revoked;			/* an inner read found the section
					 * revoked and renewed it: views taken
					 * before may be stale (reported by
					 * kvshm_read_unlock()) */
	uint64_t rnd;			/* LCG state for hint counters */
	bool in_use;
	struct kvc_tls *next;
};

#define KVC_MAX_KEPT	8	/* reconnects to one daemon per handle */
#define KVC_SAME_DAEMON	1	/* attach(): the name is still served by
				 * the daemon we are attached to */

struct kvshm {
	/*
	 * The attachment reads start from. Written under io_lock and
	 * tls_lock with a release store (reattach), read anywhere with an
	 * acquire load; the object it points to stays mapped at least
	 * while it is current.
	 */
	struct kvc_att *cur;

	/* const after kvshm_open() */
	int timeout_ms;
	unsigned int flags;		/* KVSHM_OPEN_* */
	pthread_key_t key;
	unsigned long fork_gen;		/* kvc_fork_gen at open */
	uint64_t id;			/* unique per handle, never reused */
	char name[KVS_NAME_MAX + 1];

	pthread_mutex_t tls_lock;	/* protects recs, atts, refs */
	struct kvc_tls *recs;
	struct kvc_att *atts;		/* every attachment still mapped */

	pthread_mutex_t io_lock;	/* protects everything below; taken
					 * before tls_lock */
	int fd;				/* open until kvshm_close() or a
					 * reattach */
	uint32_t spin_us;		/* KVSHM_SPIN_US at open: poll for a
					 * reply this long before blocking */
	uid_t owner;			/* the daemon's user: owns the objects
					 * and the socket of every attachment */
	bool owner_known;
	int att_err;			/* why the last reattach failed */
	int64_t retry_ms;		/* no new attempt before (realtime ms) */
	/* Connections left by reconnect(): they hold slots until close. */
	struct {
		int fd;
		bool torn;		/* no BYE: a request went out in part */
	} kept[KVC_MAX_KEPT];
	unsigned int nkept;
	bool broken;			/* stream out of step: no more requests */
	bool out_torn;			/* a request was sent only in part */
	uint32_t next_id;
	struct kvs_wbuf req;
	char *rbuf;
	size_t rcap;
};

/* The current attachment's header: limits and shape for argument checks. */
static inline const struct kvs_header *kvc_hdr(const struct kvshm *c)
{
	return __atomic_load_n(&c->cur, __ATOMIC_ACQUIRE)->hdr;
}

/* One decoded reply; payload points into c->rbuf (valid under io_lock). */
struct kvc_reply {
	struct kvs_frame_hdr h;
	struct kvs_rd rd;
};

/*
 * fork(): a child's copy of a handle shares the parent's socket and reader
 * slots, so it must never use them. A pthread_atfork() child handler bumps
 * kvc_fork_gen; a handle whose fork_gen differs was inherited, and every
 * call on it but kvshm_close() fails with KVSHM_EINVAL. One load of a
 * global on the read path, no system call.
 */
extern unsigned long kvc_fork_gen;

static inline bool kvc_forked(const struct kvshm *c)
{
	return __atomic_load_n(&kvc_fork_gen, __ATOMIC_RELAXED) != c->fork_gen;
}

int kvc_errno_to_code(int neg_errno);
void kvc_debug(const char *func, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define KVC_DEBUG(...) kvc_debug(__func__, __VA_ARGS__)

/*
 * client.c: the write channel. kvc_call() needs c->io_lock held; it sends
 * c->req (already framed) and reads the reply; if the daemon it talked to
 * is gone and a new one serves, it reattaches first. Return 0 or KVSHM_E*.
 */
int kvc_call(struct kvshm *c, uint16_t op, struct kvc_reply *rep);
uint32_t kvc_next_id(struct kvshm *c);

/*
 * kvc_reattach - with c->io_lock held: if the current attachment's daemon
 * is gone (its segment says so, or the channel broke) and a new kvshmd
 * serves the name, attach to it and make it current. Return 0 if the
 * current attachment is (now) served, KVSHM_EDAEMON if not.
 */
int kvc_reattach(struct kvshm *c);

/* kvc_att_put - drop a record's reference to @a (tls_lock held). */
void kvc_att_put(struct kvshm *c, struct kvc_att *a);

/* read.c */
/* Drop this thread's cached pointer to @t (its TLS destructor runs). */
void kvc_tls_forget(struct kvc_tls *t);
/* In a fork() child: drop the cached pointer to the parent's record. */
void kvc_tls_fork_child(void);
int kvc_key_error(const struct kvshm *c, const void *key, size_t klen);

/*
 * kvc_key_check - KVSHM_EINVAL / KVSHM_ETOOBIG for a key no operation
 * accepts, else 0.
 *
 * A key that is accepted costs one compare (klen - 1 wraps for a length
 * of 0) against the current attachment's copy of max_key, a line every
 * read touches anyway. kvshmd only raises max_key, so the copy is a floor:
 * a longer key is checked again against the header, by kvc_key_error(),
 * before it is refused.
 */
static inline int kvc_key_check(const struct kvshm *c, const void *key,
				size_t klen)
{
	if (__builtin_expect(c && key && klen - 1 <
			     __atomic_load_n(&c->cur, __ATOMIC_ACQUIRE)->max_key,
			     1))
		return 0;
	return kvc_key_error(c, key, klen);
}

#endif /* KVC_INTERNAL_H */
