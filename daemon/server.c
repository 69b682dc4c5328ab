// SPDX-License-Identifier: MIT
/*
 * daemon/server.c - the write channel: the Unix socket, connections,
 * framing, and dispatch of each decoded request to exec.
 *
 * One epoll thread. Each connection reads frames into its buffer, executes
 * them in order, and queues replies; while replies are waiting to be
 * written it stops reading (backpressure). After a round of events the
 * thread polls on for --spin-us before it sleeps, yielding the CPU
 * between polls: a client's next request in a stream comes within
 * microseconds, and waking a sleeping thread on another vCPU costs tens
 * of them (BENCHMARKS.md, "Writes"). A frame over the size limit
 * gets an error reply and the connection is closed after it, since the
 * stream cannot be resynchronised; a malformed frame gets -EPROTO.
 * Reader slots given to a connection are released when it says BYE
 * (kvshm_close) or when its process has exited: that is how a client that
 * died mid-read stops pinning memory. A connection that closes while its
 * process lives on (a bug, or a descriptor closed behind the library's
 * back) leaves its slots assigned as an orphan, watched through a pidfd in
 * the same epoll set, and released when the process exits: a thread of it
 * may still be reading through them.
 * CLIENTS lists the connections and the orphans, with what each peer sent
 * and received (counted here, on the server thread).
 *
 * SIGTERM and SIGINT arrive through a signalfd and end the loop; SIGHUP
 * arrives the same way and reloads the configuration on this thread,
 * between two requests (kvd_config_reload()), so none sees half a reload.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "atomic.h"
#include "clock.h"
#include "frame.h"
#include "kvshmd.h"
#include "log.h"
#include "notify.h"
#include "snapshot.h"

#define READ_CHUNK	65536
#define MAX_EVENTS	64

enum ev_kind { EV_CONN = 1, EV_ORPHAN };

/*
 * What CLIENTS reports of a peer besides its pid, uid and slots; an orphan
 * keeps its connection's. Server thread only.
 */
struct peer_acct {
	gid_t gid;			/* SO_PEERCRED at accept */
	int64_t since_ms;		/* kvs_mono_ms() at accept */
	uint64_t requests;		/* frames received */
	uint64_t bytes_in, bytes_out;	/* on the socket */
};

/* A SNAPSHOT request waiting for its run to end. */
struct snap_wait {
	struct conn *c;
	uint32_t id;
	uint64_t ticket;
	struct snap_wait *next;
};

struct conn {
	enum ev_kind kind;		/* EV_CONN; first, for epoll dispatch */
	int fd;
	int pidfd;			/* the peer process, or -1 */
	pid_t pid;
	uid_t uid;
	bool may_write;			/* --writers allows the peer */
	bool denied_logged;		/* one log line per connection */
	char *rbuf;
	size_t rlen, rcap;
	struct kvs_wbuf out;
	size_t sent;
	uint32_t *slots;
	size_t nslots, slots_cap;
	bool closing;			/* close once @out is written */
	bool bye;			/* the handle closed: slots are free */
	bool want_out;			/* EPOLLOUT registered */
	/*
	 * Replies are sent only up to @ready. Under fsync=always the bytes a
	 * round added wait for the WAL sync covering that round: @marks hold
	 * (end of the round's replies in @out, LSN the round wrote), oldest
	 * first, released as the sync thread advances (release_marks()).
	 */
	size_t ready;
	struct {
		size_t end;
		uint64_t lsn;
	} marks[8];
	unsigned int nmarks;
	/* On the server's pending list while it has replies not yet
	 * released or marked (so a round visits only those, not every
	 * connection). */
	bool pending;
	struct conn *pprev, *pnext;
	struct conn *prev, *next;	/* server's list of connections */
	struct peer_acct acct;		/* for CLIENTS */
};

/* Slots of a closed connection whose process still runs. */
struct orphan {
	enum ev_kind kind;		/* EV_ORPHAN */
	int pidfd;
	uint32_t *slots;
	size_t nslots;
	pid_t pid;			/* for CLIENTS: the connection's */
	uid_t uid;
	struct peer_acct acct;
	struct orphan *next;
};

struct server {
	struct kvd *d;
	int lfd, sfd, efd;
	size_t max_payload;
	struct conn *conns;
	struct conn *pending;		/* connections with held replies */
	struct orphan *orphans;
	struct snap_wait *snap_waits;
	int snap_fd;			/* kvd_snap_fd(), or -1 */
	int wal_fd;			/* kvd_wal_event_fd(), or -1 */
	bool stop;
};

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
#else
	return -1;
#endif
}

/* Has the process behind @pidfd exited (zombie included)? */
static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void release_slots(struct server *sv, uint32_t *slots, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		kvd_slot_release(sv->d->rc, slots[i]);
}

static void orphan_free(struct server *sv, struct orphan *o)
{
	struct orphan **pp;

	for (pp = &sv->orphans; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	epoll_ctl(sv->efd, EPOLL_CTL_DEL, o->pidfd, NULL);
	close(o->pidfd);
	free(o->slots);
	free(o);
	kvd_stats_dec(&sv->d->stats.orphans);
}

/* Keep @c's slots until its process exits; false if that cannot be done. */
static bool orphan_slots(struct server *sv, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct orphan *o = calloc(1, sizeof(*o));

	if (!o)
		return false;
	o->kind = EV_ORPHAN;
	o->pidfd = c->pidfd;
	o->slots = c->slots;
	o->nslots = c->nslots;
	o->pid = c->pid;
	o->uid = c->uid;
	o->acct = c->acct;
	ev.data.ptr = o;
	if (epoll_ctl(sv->efd, EPOLL_CTL_ADD, o->pidfd, &ev) < 0) {
		free(o);
		return false;
	}
	kvd_log(LOG_WARNING, "event=conn_closed_without_bye pid=%d slots=%zu "
		"action=keep_until_exit", (int)c->pid, c->nslots);
	o->next = sv->orphans;
	sv->orphans = o;
	kvd_stats_inc(&sv->d->stats.orphans);
	c->pidfd = -1;
	c->slots = NULL;
	c->nslots = 0;
	return true;
}

/*
 * conn_free - close @c. Its reader slots are released if the handle said
 * BYE or the process is gone, kept as an orphan otherwise; at shutdown
 * (@stopping) they are left alone, since the segment is being abandoned
 * and its readers must not see their epochs cleared.
 */
/* Put @c on the pending list: it has replies the end of the round must
 * release or mark. */
static void pend(struct server *sv, struct conn *c)
{
	if (c->pending)
		return;
	c->pending = true;
	c->pprev = NULL;
	c->pnext = sv->pending;
	if (sv->pending)
		sv->pending->pprev = c;
	sv->pending = c;
}

static void unpend(struct server *sv, struct conn *c)
{
	if (!c->pending)
		return;
	if (c->pprev)
		c->pprev->pnext = c->pnext;
	else
		sv->pending = c->pnext;
	if (c->pnext)
		c->pnext->pprev = c->pprev;
	c->pending = false;
}

static void conn_free(struct server *sv, struct conn *c, bool stopping)
{
	struct snap_wait **wp = &sv->snap_waits;

	unpend(sv, c);
	while (*wp) {
		if ((*wp)->c == c) {
			struct snap_wait *dead = *wp;

			*wp = dead->next;
			free(dead);
		} else {
			wp = &(*wp)->next;
		}
	}
	if (!stopping && c->nslots) {
		if (c->bye || c->pidfd < 0 || pidfd_exited(c->pidfd) ||
		    !orphan_slots(sv, c))
			release_slots(sv, c->slots, c->nslots);
	}
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->prev)
		c->prev->next = c->next;
	else
		sv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	epoll_ctl(sv->efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	kvs_wbuf_free(&c->out);
	free(c->rbuf);
	free(c->slots);
	free(c);
	kvd_stats_dec(&sv->d->stats.connections);
}

static void reply_status(struct conn *c, const struct kvs_frame_hdr *h, int rc)
{
	kvs_frame_begin(&c->out, h->op | KVS_OP_REPLY, 0, h->id, rc);
	kvs_frame_end(&c->out);
}

static int op_slot(struct server *sv, struct conn *c, uint32_t *idx)
{
	int rc;

	/* One client may not take every slot from the others. */
	if (c->nslots >= sv->d->cfg.max_readers_per_client) {
		kvd_log(LOG_WARNING, "event=reader_slots_per_client_full pid=%d "
			"slots=%zu", (int)c->pid, c->nslots);
		return -ENOSPC;
	}
	if (c->nslots == c->slots_cap) {
		size_t cap = c->slots_cap ? c->slots_cap * 2 : 4;
		uint32_t *p = realloc(c->slots, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->slots = p;
		c->slots_cap = cap;
	}
	rc = kvd_slot_assign(sv->d->rc, c->pid, idx);
	if (rc == 0)
		c->slots[c->nslots++] = *idx;
	else
		kvd_log(LOG_WARNING, "event=reader_slots_full pid=%d slots=%u",
			(int)c->pid, sv->d->cfg.max_readers);
	return rc;
}

/*
 * decode_kv - a batch: u32 n, then n keys, each followed by a value and a
 * TTL when @pairs. Pointers go into the frame. Each entry takes at least
 * 4 (key) or 16 (pair) bytes, which bounds n before anything is allocated.
 * Return: 0 with *@kv malloc()ed, or -EPROTO / -ENOMEM.
 */
static int decode_kv(struct kvs_rd *r, bool pairs, struct kvd_kv **kv,
		     uint32_t *np)
{
	uint32_t i, n = kvs_get_u32(r);
	struct kvd_kv *p;
	int rc;

	if (r->err || n == 0 || n > r->left / (pairs ? 16 : 4))
		return -EPROTO;
	p = calloc(n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		p[i].op = pairs ? KVD_OP_PUT : KVD_OP_DEL;
		p[i].key = kvs_get_blob(r, &p[i].klen);
		if (pairs) {
			p[i].val = kvs_get_blob(r, &p[i].vlen);
			p[i].ttl_ms = kvs_get_i64(r);
		}
	}
	rc = kvs_rd_done(r);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*kv = p;
	*np = n;
	return 0;
}

/* MSET (@removed NULL) or MDEL: decode the batch, then run it. */
static int op_batch(struct kvd *d, struct kvs_rd *r, uint64_t *removed)
{
	struct kvd_kv *kv;
	uint32_t n;
	int rc;

	rc = decode_kv(r, !removed, &kv, &n);
	if (rc < 0)
		return rc;
	rc = removed ? kvd_exec_mdel(d, kv, n, removed) :
		       kvd_exec_mset(d, kv, n);
	free(kv);
	return rc;
}

/*
 * decode_ops - a BATCH: u32 n, then n ops of (u32 op, u32 cond, blob key,
 * blob val, i64 ttl_ms, u64 version). Pointers go into the frame. Each op
 * takes at least KVS_BATCH_OP_MIN bytes, which bounds n before anything is
 * allocated. The values of op and cond are exec's to judge.
 * Return: 0 with *@kv malloc()ed, or -EPROTO / -ENOMEM.
 */
static int decode_ops(struct kvs_rd *r, struct kvd_kv **kv, uint32_t *np)
{
	uint32_t i, n = kvs_get_u32(r);
	struct kvd_kv *p;
	int rc;

	if (r->err || n == 0 || n > r->left / KVS_BATCH_OP_MIN)
		return -EPROTO;
	p = calloc(n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		p[i].op = kvs_get_u32(r);
		p[i].cond = kvs_get_u32(r);
		p[i].key = kvs_get_blob(r, &p[i].klen);
		p[i].val = kvs_get_blob(r, &p[i].vlen);
		p[i].ttl_ms = kvs_get_i64(r);
		p[i].version = kvs_get_u64(r);
	}
	rc = kvs_rd_done(r);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*kv = p;
	*np = n;
	return 0;
}

/*
 * BATCH: decode and run it. A failure's reply carries the index of the op
 * that failed the batch, UINT32_MAX if none did (a malformed frame, memory).
 */
static void op_multi(struct kvd *d, struct conn *c,
		     const struct kvs_frame_hdr *h, struct kvs_rd *r)
{
	uint32_t n, failed = UINT32_MAX;
	struct kvd_kv *kv = NULL;
	int rc;

	rc = h->flags ? -EPROTO : decode_ops(r, &kv, &n);
	if (rc == 0)
		rc = kvd_exec_batch(d, kv, n, &failed);
	free(kv);
	if (rc == -EPROTO)
		kvd_log(LOG_WARNING, "event=bad_frame pid=%d op=%u len=%u",
			(int)c->pid, h->op, h->len);
	kvs_frame_begin(&c->out, h->op | KVS_OP_REPLY, 0, h->id, rc);
	if (rc < 0)
		kvs_put_u32(&c->out, failed);
	kvs_frame_end(&c->out);
}

/* Append a reply carrying one 64-bit number. */
static void reply_u64(struct conn *c, const struct kvs_frame_hdr *h,
		      uint64_t v)
{
	kvs_frame_begin(&c->out, h->op | KVS_OP_REPLY, 0, h->id, 0);
	kvs_put_u64(&c->out, v);
	kvs_frame_end(&c->out);
}

/*
 * fields_done - for ops that define no header flags: the payload was
 * consumed exactly and the flags are 0. Return 0 or -EPROTO.
 */
static int fields_done(const struct kvs_rd *r, const struct kvs_frame_hdr *h)
{
	int rc = kvs_rd_done(r);

	return rc < 0 ? rc : h->flags ? -EPROTO : 0;
}

/* One CLIENTS record (frame.h), framed as a blob. */
static void put_client(struct kvs_wbuf *w, pid_t pid, uid_t uid,
		       const struct peer_acct *a, uint32_t flags,
		       size_t nslots, int64_t now)
{
	kvs_put_u32(w, KVS_CLIENT_REC_LEN);	/* the blob's length */
	kvs_put_u32(w, (uint32_t)pid);
	kvs_put_u32(w, (uint32_t)uid);
	kvs_put_u32(w, (uint32_t)a->gid);
	kvs_put_u32(w, flags);
	kvs_put_u32(w, (uint32_t)nslots);
	kvs_put_u64(w, a->requests);
	kvs_put_u64(w, a->bytes_in);
	kvs_put_u64(w, a->bytes_out);
	kvs_put_u64(w, (uint64_t)(now - a->since_ms));
}

/* KVS_CLIENT_STALLED/REVOKED for a client holding @slots. */
static uint32_t slots_flags(struct server *sv, const uint32_t *slots,
			    size_t n)
{
	uint32_t f = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned int st = kvd_slot_state(sv->d->rc, slots[i]);

		if (st & KVD_SLOT_STALLED)
			f |= KVS_CLIENT_STALLED;
		if (st & KVD_SLOT_REVOKED)
			f |= KVS_CLIENT_REVOKED;
	}
	return f;
}

/*
 * CLIENTS: a record per connection, then one per orphan. The lists are
 * the server thread's, and this runs on it: nothing changes meanwhile.
 * Any client may ask, as for STATS (what it learns, pids and uids of
 * processes on the same host, /proc shows too).
 */
static void op_clients(struct server *sv, struct conn *self,
		       const struct kvs_frame_hdr *h)
{
	int64_t now = kvs_mono_ms();
	struct orphan *o;
	struct conn *c;
	uint32_t n = 0;

	for (c = sv->conns; c; c = c->next)
		n++;
	for (o = sv->orphans; o; o = o->next)
		n++;
	kvs_frame_begin(&self->out, h->op | KVS_OP_REPLY, 0, h->id, 0);
	kvs_put_u32(&self->out, n);
	for (c = sv->conns; c; c = c->next)
		put_client(&self->out, c->pid, c->uid, &c->acct,
			   (c == self ? KVS_CLIENT_SELF : 0) |
			   slots_flags(sv, c->slots, c->nslots), c->nslots, now);
	for (o = sv->orphans; o; o = o->next)
		put_client(&self->out, o->pid, o->uid, &o->acct,
			   KVS_CLIENT_ORPHAN | slots_flags(sv, o->slots,
							   o->nslots),
			   o->nslots, now);
	kvs_frame_end(&self->out);
}

/* Decode and execute one request; append its reply to c->out. */
/* Ops that change the data or the disk: only --writers may send them. */
static bool op_writes(uint16_t op)
{
	switch (op) {
	case KVS_OP_SET: case KVS_OP_DEL: case KVS_OP_EXPIRE:
	case KVS_OP_PERSIST: case KVS_OP_INCR: case KVS_OP_MSET:
	case KVS_OP_APPEND: case KVS_OP_GETDEL: case KVS_OP_GETSET:
	case KVS_OP_FLUSH: case KVS_OP_MDEL: case KVS_OP_CAS:
	case KVS_OP_CASDEL: case KVS_OP_BATCH: case KVS_OP_SNAPSHOT:
		return true;
	default:
		return false;
	}
}

static void dispatch(struct server *sv, struct conn *c,
		     const struct kvs_frame_hdr *h, const char *payload)
{
	struct kvd *d = sv->d;
	struct kvs_rd r;
	const void *key = NULL, *val = NULL;
	size_t klen = 0, vlen = 0;
	int64_t i64 = 0, result = 0;
	uint32_t u32 = 0;
	char *text;
	size_t tlen;
	int rc;

	kvs_rd_init(&r, payload, h->len);
	if (!c->may_write && op_writes(h->op)) {
		if (!c->denied_logged)
			kvd_log(LOG_NOTICE, "event=write_denied pid=%d uid=%u "
				"op=%u", (int)c->pid, (unsigned int)c->uid, h->op);
		c->denied_logged = true;
		reply_status(c, h, -EPERM);
		return;
	}
	switch (h->op) {
	case KVS_OP_HELLO:
		u32 = kvs_get_u32(&r);
		kvs_get_u32(&r);			/* client pid, informative */
		if ((rc = kvs_rd_done(&r)) < 0)
			break;
		if (u32 != KVS_PROTO_VERSION) {
			rc = -EPROTO;
			break;
		}
		reply_u64(c, h, d->hdr->generation);
		return;
	case KVS_OP_PING:
		rc = kvs_rd_done(&r);
		break;
	case KVS_OP_BYE:
		if (kvs_rd_done(&r) == 0)
			c->bye = true;
		return;				/* no reply */
	case KVS_OP_SLOT:
		if ((rc = kvs_rd_done(&r)) < 0 || (rc = op_slot(sv, c, &u32)) < 0)
			break;
		kvs_frame_begin(&c->out, h->op | KVS_OP_REPLY, 0, h->id, 0);
		kvs_put_u32(&c->out, u32);
		kvs_frame_end(&c->out);
		return;
	case KVS_OP_STATS:
	case KVS_OP_CONFIG_GET:
		if ((rc = kvs_rd_done(&r)) < 0)
			break;
		text = h->op == KVS_OP_STATS ? kvd_stats_text(d, &tlen) :
					       kvd_config_text(d, &tlen);
		if (!text) {
			rc = -ENOMEM;
			break;
		}
		kvs_frame_begin(&c->out, h->op | KVS_OP_REPLY, 0, h->id, 0);
		kvs_put_blob(&c->out, text, tlen);
		kvs_frame_end(&c->out);
		free(text);
		return;
	case KVS_OP_CLIENTS:
		if ((rc = fields_done(&r, h)) < 0)
			break;
		op_clients(sv, c, h);
		return;
	case KVS_OP_CONFIG_SET:
		key = kvs_get_blob(&r, &klen);
		val = kvs_get_blob(&r, &vlen);
		if ((rc = kvs_rd_done(&r)) < 0)
			break;
		/* Settings are the operator's: the daemon's user or root. */
		if (c->uid != geteuid() && c->uid != 0)
			rc = -EPERM;
		else
			rc = kvd_config_set(d, key, klen, val, vlen);
		break;
	case KVS_OP_SET:
		key = kvs_get_blob(&r, &klen);
		val = kvs_get_blob(&r, &vlen);
		i64 = kvs_get_i64(&r);
		if ((rc = kvs_rd_done(&r)) == 0)
			rc = kvd_exec_set(d, key, klen, val, vlen, i64, h->flags);
		break;
	case KVS_OP_DEL:
	case KVS_OP_PERSIST:
		key = kvs_get_blob(&r, &klen);
		if ((rc = kvs_rd_done(&r)) < 0)
			break;
		rc = h->op == KVS_OP_DEL ? kvd_exec_del(d, key, klen) :
					   kvd_exec_persist(d, key, klen);
		break;
	case KVS_OP_EXPIRE:
		key = kvs_get_blob(&r, &klen);
		i64 = kvs_get_i64(&r);
		if ((rc = kvs_rd_done(&r)) == 0)
			rc = kvd_exec_expire(d, key, klen, i64);
		break;
	case KVS_OP_MSET:
		rc = op_batch(d, &r, NULL);
		break;
	case KVS_OP_APPEND: {
		uint64_t n = 0;

		key = kvs_get_blob(&r, &klen);
		val = kvs_get_blob(&r, &vlen);
		if ((rc = kvs_rd_done(&r)) < 0 ||
		    (rc = kvd_exec_append(d, key, klen, val, vlen, &n)) < 0)
			break;
		reply_u64(c, h, n);
		return;
	}
	case KVS_OP_GETDEL:
	case KVS_OP_GETSET: {
		struct kvd_blob old = { 0 };

		key = kvs_get_blob(&r, &klen);
		if (h->op == KVS_OP_GETSET) {
			val = kvs_get_blob(&r, &vlen);
			i64 = kvs_get_i64(&r);
		}
		if ((rc = kvs_rd_done(&r)) < 0)
			break;
		rc = h->op == KVS_OP_GETDEL ?
			kvd_exec_getdel(d, key, klen, &old) :
			kvd_exec_getset(d, key, klen, val, vlen, i64, &old);
		if (rc < 0)
			break;
		kvs_frame_begin(&c->out, h->op | KVS_OP_REPLY, 0, h->id, 0);
		kvs_put_u32(&c->out, old.had);
		kvs_put_blob(&c->out, old.p, old.len);
		kvs_frame_end(&c->out);
		free(old.p);
		return;
	}
	case KVS_OP_MDEL: {
		uint64_t n = 0;

		if ((rc = op_batch(d, &r, &n)) < 0)
			break;
		reply_u64(c, h, n);
		return;
	}
	case KVS_OP_FLUSH: {
		uint64_t n = 0;

		if ((rc = kvs_rd_done(&r)) < 0 || (rc = kvd_exec_flush(d, &n)) < 0)
			break;
		reply_u64(c, h, n);
		return;
	}
	case KVS_OP_SNAPSHOT: {
		struct snap_wait *w;

		if ((rc = kvs_rd_done(&r)) < 0)
			break;
		if (!d->snap) {
			rc = -ENOTSUP;		/* --persistence none */
			break;
		}
		w = calloc(1, sizeof(*w));
		if (!w) {
			rc = -ENOMEM;
			break;
		}
		/* Replied to when the run ends (snap_finished()). */
		w->c = c;
		w->id = h->id;
		w->ticket = kvd_snap_request(d->snap);
		w->next = sv->snap_waits;
		sv->snap_waits = w;
		return;
	}
	case KVS_OP_BATCH:
		op_multi(d, c, h, &r);
		return;
	case KVS_OP_CAS: {
		uint64_t ver, nver = 0;

		key = kvs_get_blob(&r, &klen);
		val = kvs_get_blob(&r, &vlen);
		i64 = kvs_get_i64(&r);
		ver = kvs_get_u64(&r);
		if ((rc = fields_done(&r, h)) < 0 ||
		    (rc = kvd_exec_cas(d, key, klen, val, vlen, i64, ver,
				       &nver)) < 0)
			break;
		reply_u64(c, h, nver);
		return;
	}
	case KVS_OP_CASDEL: {
		uint64_t ver;

		key = kvs_get_blob(&r, &klen);
		ver = kvs_get_u64(&r);
		if ((rc = fields_done(&r, h)) == 0)
			rc = kvd_exec_casdel(d, key, klen, ver);
		break;
	}
	case KVS_OP_INCR:
		key = kvs_get_blob(&r, &klen);
		i64 = kvs_get_i64(&r);
		if ((rc = kvs_rd_done(&r)) < 0 ||
		    (rc = kvd_exec_incr(d, key, klen, i64, &result)) < 0)
			break;
		reply_u64(c, h, (uint64_t)result);
		return;
	default:
		rc = -EPROTO;
		break;
	}
	if (rc == -EPROTO)
		kvd_log(LOG_WARNING, "event=bad_frame pid=%d op=%u len=%u",
			(int)c->pid, h->op, h->len);
	reply_status(c, h, rc);
}

/* For stats and CLIENTS: one more frame from @c. */
static void count_request(struct server *sv, struct conn *c,
			  const struct kvs_frame_hdr *h)
{
	struct kvd_stats *st = &sv->d->stats;

	c->acct.requests++;
	kvd_stats_inc(&st->requests);
	if (h->op < KVD_STATS_OPS)
		kvd_stats_inc(&st->req_op[h->op]);
}

/* Execute every complete frame in c->rbuf. */
static void process(struct server *sv, struct conn *c)
{
	struct kvs_frame_hdr h;
	size_t pos = 0;
	long n;

	while (!c->closing &&
	       (n = kvs_frame_peek(c->rbuf + pos, c->rlen - pos,
				   sv->max_payload, &h)) != 0) {
		if (n < 0) {
			kvd_log(LOG_WARNING, "event=frame_too_big pid=%d len=%u "
				"max=%zu action=close", (int)c->pid, h.len,
				sv->max_payload);
			reply_status(c, &h, -EMSGSIZE);
			c->closing = true;
			break;
		}
		count_request(sv, c, &h);
		dispatch(sv, c, &h, c->rbuf + pos + sizeof(h));
		pos += (size_t)n;
	}
	memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
	c->rlen -= pos;
}

static int set_events(struct server *sv, struct conn *c, bool out)
{
	struct epoll_event ev = {
		.events = out ? EPOLLOUT : EPOLLIN,
		.data.ptr = c,
	};

	c->want_out = out;
	return epoll_ctl(sv->efd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write queued replies. Return <0 to close the connection. */
static int flush_out(struct server *sv, struct conn *c)
{
	if (c->out.err)
		return c->out.err;
	while (c->sent < c->ready) {
		ssize_t w = send(c->fd, c->out.p + c->sent, c->ready - c->sent,
				 MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return c->want_out ? 0 : set_events(sv, c, true);
		if (w < 0)
			return -errno;
		c->sent += (size_t)w;
		c->acct.bytes_out += (uint64_t)w;
	}
	if (c->sent < c->out.len) {
		/* Later replies still wait for their sync: keep them. */
		return c->want_out ? set_events(sv, c, false) : 0;
	}
	c->out.len = 0;
	c->sent = 0;
	c->ready = 0;
	if (c->closing)
		return -ECONNRESET;
	return c->want_out ? set_events(sv, c, false) : 0;
}

static int conn_read(struct server *sv, struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->rcap - c->rlen < READ_CHUNK) {
			size_t need = c->rlen + READ_CHUNK;
			size_t cap = c->rcap ? c->rcap : READ_CHUNK;
			char *p;

			while (cap < need)
				cap *= 2;
			p = realloc(c->rbuf, cap);
			if (!p)
				return -ENOMEM;
			c->rbuf = p;
			c->rcap = cap;
		}
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		c->rlen += (size_t)n;
		c->acct.bytes_in += (uint64_t)n;
		process(sv, c);
		/* Replies wait for the end of the round (commit_round()). */
		if (c->out.len > c->ready)
			pend(sv, c);
	}
}

/*
 * conn_lost - a reply could not be sent: the peer is gone. It may have
 * said BYE and closed while its last reply waited for the end of the
 * round (or for its WAL sync), leaving the BYE unread in our receive
 * queue; read what it sent before freeing, or its reader slots would be
 * kept as an orphan's until the process exits. Frames read here run like
 * any others (the client sent them); their replies go nowhere.
 */
static void conn_lost(struct server *sv, struct conn *c)
{
	if (!c->bye && !c->closing)
		(void)conn_read(sv, c);
	conn_free(sv, c, false);
}

/*
 * Let out the replies whose WAL sync has happened, and send what may go.
 * Also runs when the sync thread signals that synced_lsn advanced.
 */
static void release_marks(struct server *sv)
{
	struct kvd_wal *wal = sv->d->wal;
	uint64_t synced = wal ? kvd_wal_synced_lsn(wal) : 0;
	struct conn *c, *next;

	/* fsync left "always" (SIGHUP): what waited for a sync goes now. */
	if (wal && !kvd_wal_holds_replies(wal))
		synced = UINT64_MAX;

	for (c = sv->pending; c; c = next) {
		unsigned int i = 0;

		next = c->pnext;
		while (i < c->nmarks && c->marks[i].lsn <= synced)
			c->ready = c->marks[i++].end;
		if (i) {
			memmove(c->marks, c->marks + i,
				(c->nmarks - i) * sizeof(c->marks[0]));
			c->nmarks -= i;
		}
		if (!c->nmarks)
			unpend(sv, c);	/* the rest goes out by flush_out() */
		if (c->ready > c->sent && !c->want_out && flush_out(sv, c) < 0)
			conn_lost(sv, c);
	}
}

/*
 * The end of an event-loop round: make every write executed in it durable
 * per the fsync policy (one WAL write for all of them: group commit),
 * then send the replies. Replies to reads and admin requests wait too;
 * it costs them nothing measurable and keeps one path.
 */
static void commit_round(struct server *sv)
{
	struct kvd_wal *wal = sv->d->wal;
	bool hold = wal && kvd_wal_holds_replies(wal);
	uint64_t lsn = 0;
	struct conn *c;

	if (wal) {
		kvd_wal_commit(wal);
		lsn = kvd_wal_written_lsn(wal);
	}
	for (c = sv->pending; c; c = c->pnext) {
		if (c->out.len > c->ready && !hold && !c->nmarks) {
			c->ready = c->out.len;
		} else if (c->out.len > c->ready &&
			   (!c->nmarks || c->marks[c->nmarks - 1].end < c->out.len)) {
			/* A full ring merges into its newest mark: those
			 * replies then wait for the later sync. */
			if (c->nmarks == sizeof(c->marks) / sizeof(c->marks[0]))
				c->nmarks--;
			c->marks[c->nmarks].end = c->out.len;
			c->marks[c->nmarks].lsn = lsn;
			c->nmarks++;
		}
	}
	release_marks(sv);
}
/* A snapshot run ended: answer the SNAPSHOT requests it served. */
static void snap_finished(struct server *sv)
{
	struct snap_wait **wp = &sv->snap_waits;
	uint64_t lsn, done;
	int rc;

	done = kvd_snap_done(sv->d->snap, &rc, &lsn);
	while (*wp) {
		struct snap_wait *w = *wp;
		struct kvs_frame_hdr h = { .op = KVS_OP_SNAPSHOT, .id = w->id };

		if (w->ticket > done) {
			wp = &w->next;
			continue;
		}
		if (rc < 0)
			reply_status(w->c, &h, rc);
		else
			reply_u64(w->c, &h, lsn);
		pend(sv, w->c);
		*wp = w->next;
		free(w);
	}
}

static void on_accept(struct server *sv)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct conn *c;
		int fd;

		fd = accept4(sv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				kvd_log(LOG_WARNING, "event=accept_failed errno=%d",
					errno);
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->kind = EV_CONN;
		c->fd = fd;
		c->pidfd = -1;
		c->uid = (uid_t)-1;	/* unknown: neither root nor us */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
			c->pid = cred.pid;
			c->uid = cred.uid;
			c->pidfd = pidfd_of(cred.pid);
			c->may_write = kvd_access_may_write(&sv->d->cfg.access,
							    fd, cred.uid,
							    cred.gid);
			c->acct.gid = cred.gid;
		}
		c->acct.since_ms = kvs_mono_ms();
		ev.data.ptr = c;
		if (epoll_ctl(sv->efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = sv->conns;
		if (sv->conns)
			sv->conns->prev = c;
		sv->conns = c;
		kvd_stats_inc(&sv->d->stats.connections);
		kvd_stats_inc(&sv->d->stats.connections_total);
	}
}

/* Is something already listening on @path? */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool alive;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

static int listen_on(struct server *sv)
{
	const char *path = sv->d->cfg.socket_path;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int fd, rc;

	if (socket_alive(path)) {
		kvd_log(LOG_ERR, "event=start_failed reason=\"socket %s is in use "
			"by another process\"", path);
		return -EADDRINUSE;
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/*
	 * The socket is born with its mode (umask around bind), owner-only
	 * until its group is set; then the group, never following a
	 * symlink someone put at the path.
	 */
	old_mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc < 0 ||
	    (sv->d->cfg.access.group_set &&
	     lchown(path, (uid_t)-1, sv->d->cfg.access.group) < 0) ||
	    fchmodat(AT_FDCWD, path, sv->d->cfg.access.socket_mode, 0) < 0 ||
	    listen(fd, 512) < 0) {
		int e = errno;

		kvd_log(LOG_ERR, "event=start_failed reason=listen socket=%s "
			"errno=%d (%s)", path, e, strerror(e));
		close(fd);
		return -e;
	}
	sv->lfd = fd;
	return 0;
}

static int signals_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* A signal from the signalfd: SIGHUP reloads, the others stop. */
static void on_signal(struct server *sv)
{
	struct signalfd_siginfo si;

	if (read(sv->sfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		kvd_log(LOG_DEBUG, "event=reload signal=%s pid=%d",
			strsignal((int)si.ssi_signo), (int)si.ssi_pid);
		kvd_config_reload(sv->d);
		sv->max_payload = kvs_max_payload(sv->d->cfg.max_key,
						  sv->d->cfg.max_value);
		return;
	}
	kvd_log(LOG_INFO, "event=stop signal=%s", strsignal((int)si.ssi_signo));
	kvd_notify_stopping();
	sv->stop = true;
}

/*
 * kvd_server_run - serve until SIGTERM/SIGINT, reloading on SIGHUP. The
 * three must be blocked in every thread (main.c does it before starting
 * any). Once the socket listens, one byte is written to @ready_fd (if
 * >= 0) and it is closed, and the service manager is told (READY=1).
 * Return: 0 on a clean stop, -errno if serving could not start.
 */
int kvd_server_run(struct kvd *d, int ready_fd)
{
	struct server sv = { .d = d, .lfd = -1, .sfd = -1, .efd = -1 };
	struct epoll_event ev, evs[MAX_EVENTS];
	uint64_t spin_end = 0;		/* kvs_mono_ns(): poll until then */
	int rc, i, n;

	sv.max_payload = kvs_max_payload(d->cfg.max_key, d->cfg.max_value);
	rc = listen_on(&sv);
	if (rc < 0)
		return rc;
	sv.sfd = signals_fd();
	sv.efd = epoll_create1(EPOLL_CLOEXEC);
	if (sv.sfd < 0 || sv.efd < 0) {
		rc = -errno;
		goto out;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = &sv.lfd;
	epoll_ctl(sv.efd, EPOLL_CTL_ADD, sv.lfd, &ev);
	ev.data.ptr = &sv.sfd;
	epoll_ctl(sv.efd, EPOLL_CTL_ADD, sv.sfd, &ev);
	sv.wal_fd = d->wal ? kvd_wal_event_fd(d->wal) : -1;
	if (sv.wal_fd >= 0) {
		ev.data.ptr = &sv.wal_fd;
		epoll_ctl(sv.efd, EPOLL_CTL_ADD, sv.wal_fd, &ev);
	}
	sv.snap_fd = d->snap ? kvd_snap_fd(d->snap) : -1;
	if (sv.snap_fd >= 0) {
		ev.data.ptr = &sv.snap_fd;
		epoll_ctl(sv.efd, EPOLL_CTL_ADD, sv.snap_fd, &ev);
	}

	kvd_log(LOG_INFO, "event=ready name=%s pid=%d memory=%llu shards=%u "
		"socket=%s membarrier=%s", d->cfg.name, (int)getpid(),
		(unsigned long long)d->cfg.memory, d->cfg.nshards,
		d->cfg.socket_path, d->membarrier ? "expedited" : "fenced");
	if (ready_fd >= 0) {
		ssize_t w = write(ready_fd, "R", 1);

		(void)w;
		close(ready_fd);
	}
	kvd_notify_ready();

	while (!sv.stop) {
		n = epoll_wait(sv.efd, evs, MAX_EVENTS, spin_end ? 0 : 1000);
		if (n == 0 && spin_end) {
			/*
			 * Spinning: poll again until --spin-us after the
			 * last event, yielding the CPU between polls so
			 * that a client waiting on this vCPU runs; then
			 * sleep.
			 */
			if (kvs_mono_ns() < spin_end)
				sched_yield();
			else
				spin_end = 0;
			continue;
		}
		if (n > 0 && d->cfg.spin_us)
			spin_end = kvs_mono_ns() +
				   (uint64_t)d->cfg.spin_us * 1000;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			kvd_log(LOG_ERR, "event=epoll_failed errno=%d (%s)", -rc,
				strerror(-rc));
			goto out;
		}
		for (i = 0; i < n; i++) {
			struct conn *c;

			if (evs[i].data.ptr == &sv.lfd) {
				on_accept(&sv);
				continue;
			}
			if (evs[i].data.ptr == &sv.wal_fd) {
				uint64_t v;

				if (read(sv.wal_fd, &v, sizeof(v)) < 0 &&
				    errno != EAGAIN)
					kvd_log(LOG_WARNING, "event=eventfd_read "
						"errno=%d", errno);
				continue;	/* commit_round() releases */
			}
			if (evs[i].data.ptr == &sv.snap_fd) {
				snap_finished(&sv);
				continue;
			}
			if (evs[i].data.ptr == &sv.sfd) {
				on_signal(&sv);
				continue;
			}
			if (*(enum ev_kind *)evs[i].data.ptr == EV_ORPHAN) {
				struct orphan *o = evs[i].data.ptr;

				release_slots(&sv, o->slots, o->nslots);
				orphan_free(&sv, o);
				continue;
			}
			c = evs[i].data.ptr;
			if (c->want_out) {
				if (flush_out(&sv, c) < 0)
					conn_lost(&sv, c);
				continue;
			}
			if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
			    conn_read(&sv, c) < 0)
				conn_free(&sv, c, false);
		}
		commit_round(&sv);
		if (d->snap)
			kvd_snap_tick(d->snap);
	}
	rc = 0;
out:
	/* Unanswered SNAPSHOT requests get their answer from the snapshot
	 * written at the stop (or none: their connections close). */
	while (sv.conns)
		conn_free(&sv, sv.conns, true);
	while (sv.orphans)
		orphan_free(&sv, sv.orphans);
	if (sv.efd >= 0)
		close(sv.efd);
	if (sv.sfd >= 0)
		close(sv.sfd);
	close(sv.lfd);
	unlink(d->cfg.socket_path);
	return rc;
}
