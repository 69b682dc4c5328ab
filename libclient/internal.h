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

#include "frame.h"
#include "kvshm.h"
#include "layout.h"

/*
 * A thread's reader record for one handle: its slot in the rw area and its
 * read-section depth. Records are owned by the handle and recycled when a
 * thread exits (the pthread key's destructor marks them free), so the
 * slot the daemon assigned stays with the process until kvshm_close().
 */
struct kvc_tls {
	struct kvshm *c;
	struct kvs_slot *slot;
	unsigned int depth;
	uint32_t rnd;			/* xorshift state for hint counters */
	bool in_use;
	struct kvc_tls *next;
};

struct kvshm {
	/* const after kvshm_open() */
	struct kvs_map map;		/* PROT_READ mapping of the data */
	const struct kvs_header *hdr;
	void *rw;
	size_t rw_size;
	struct kvs_slot *slots;
	uint32_t *hints;		/* access-hint words, nhints */
	uint32_t nhints;
	bool fenced;			/* full fence after the epoch store */
	uint64_t generation;
	int timeout_ms;
	pthread_key_t key;
	unsigned long fork_gen;		/* kvc_fork_gen at open */
	uint64_t id;			/* unique per handle, never reused */
	char name[KVS_NAME_MAX + 1];

	pthread_mutex_t tls_lock;	/* protects recs */
	struct kvc_tls *recs;

	pthread_mutex_t io_lock;	/* protects everything below */
	int fd;				/* open until kvshm_close() */
	bool broken;			/* stream out of step: no more requests */
	bool out_torn;			/* a request was sent only in part */
	uint32_t next_id;
	struct kvs_wbuf req;
	char *rbuf;
	size_t rcap;
};

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

/* client.c: the write channel. kvc_call() needs c->io_lock held; it sends
 * c->req (already framed) and reads the reply. Return 0 or KVSHM_E*. */
int kvc_call(struct kvshm *c, uint16_t op, struct kvc_reply *rep);
uint32_t kvc_next_id(struct kvshm *c);

/* read.c */
struct kvc_tls *kvc_tls_get(struct kvshm *c, int *rc);
int kvc_key_check(const struct kvshm *c, const void *key, size_t klen);

#endif /* KVC_INTERNAL_H */
