// SPDX-License-Identifier: MIT
/*
 * libclient/client.c - kvshm_open()/kvshm_close(): mapping both shared
 * objects and checking what they claim, and the write channel (one Unix
 * stream socket per handle, one request at a time under io_lock).
 *
 * Everything read from the segment header is checked before use: a
 * segment from another layout version is KVSHM_EVERSION, one whose fields
 * do not add up is refused, never trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "atomic.h"
#include "clock.h"
#include "epoch.h"
#include "internal.h"

#define DEFAULT_TIMEOUT_MS	5000
#define MAX_REPLY		(64U << 20)

unsigned long kvc_fork_gen;
static uint64_t kvc_next_handle_id;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
	__atomic_add_fetch(&kvc_fork_gen, 1, __ATOMIC_RELAXED);
	kvc_tls_fork_child();
}

static void atfork_init(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

static int name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > KVS_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return 0;
	}
	return 1;
}

static int errno_code(int e, int fallback)
{
	if (e == ENOENT)
		return KVSHM_EDAEMON;
	if (e == EACCES || e == EPERM)
		return KVSHM_EPERM;
	errno = e;
	return fallback;
}

/* Map shm object @shm_name; return 0 or KVSHM_E*. */
static int map_object(const char *shm_name, bool rw, void **base, size_t *size,
		      uid_t *owner)
{
	struct stat st;
	void *p;
	int fd, e;

	fd = shm_open(shm_name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
	if (fd < 0)
		return errno_code(errno, KVSHM_ESYS);
	if (fstat(fd, &st) < 0)
		goto err;
	if ((size_t)st.st_size < sizeof(struct kvs_header) && !rw) {
		close(fd);
		return KVSHM_EDAEMON;	/* being created */
	}
	if (st.st_size == 0) {
		close(fd);
		return KVSHM_EDAEMON;
	}
	p = mmap(NULL, (size_t)st.st_size, rw ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto err;
	close(fd);
	*base = p;
	*size = (size_t)st.st_size;
	*owner = st.st_uid;
	return 0;
err:
	e = errno;
	close(fd);
	return errno_code(e, KVSHM_ESYS);
}

/* Does the header describe a segment we can read safely? */
static int header_check(const struct kvs_header *h, size_t size)
{
	uint32_t magic = kvs_load_acquire(&h->magic);

	if (magic == 0)
		return KVSHM_EDAEMON;		/* not published yet */
	if (magic != KVS_MAGIC || h->layout_version != KVS_LAYOUT_VERSION)
		return KVSHM_EVERSION;
	if (kvs_load_acquire(&h->superseded))
		return KVSHM_EDAEMON;
	if (h->size != size || h->nshards == 0 || h->shard_bits > 16 ||
	    h->nshards != 1U << h->shard_bits ||
	    h->shards_off < sizeof(*h) || h->shards_off % KVS_CACHELINE ||
	    h->shards_off > size ||
	    (uint64_t)h->nshards * sizeof(struct kvs_shard) > size - h->shards_off ||
	    h->heap_off > size || h->heap_size > size - h->heap_off ||
	    h->nslots == 0 || h->socket_path[0] != '/' ||
	    memchr(h->socket_path, '\0', sizeof(h->socket_path)) == NULL)
		return KVSHM_EVERSION;
	return 0;
}

static int rw_check(const struct kvc_att *a)
{
	const struct kvs_rw_header *rh = a->rw;
	/* The data header's values (read-only to clients), read once: the
	 * rw area is writable by every client of the cache. */
	uint32_t nslots = a->hdr->nslots;
	uint64_t nhints = a->hdr->nhints;

	if (a->rw_size < sizeof(*rh) ||
	    kvs_load_acquire(&rh->magic) != KVS_RW_MAGIC ||
	    rh->layout_version != KVS_LAYOUT_VERSION)
		return KVSHM_EVERSION;
	if (rh->generation != a->generation)
		return KVSHM_EDAEMON;		/* a daemon is replacing it */
	/* nhints must be the mapping's size / 8: a lookup's hint index is
	 * below that by construction, and touch_word() writes the word it
	 * names with no test of its own (kvs_lookup_read(),
	 * kvs_lookup_quick()). */
	if (rh->nslots != nslots || rh->nhints != nhints ||
	    nhints != a->map.size / 8 ||
	    a->rw_size < kvs_rw_size(nslots, nhints))
		return KVSHM_EVERSION;
	return 0;
}

/* Connect to the socket @h names, which must belong to user @owner. */
static int connect_daemon(const struct kvshm *c, const struct kvs_header *h,
			  uid_t owner, int *fdp)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = {
		.tv_sec = c->timeout_ms / 1000,
		.tv_usec = (c->timeout_ms % 1000) * 1000,
	};
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno_code(errno, KVSHM_ESYS);
	memcpy(sa.sun_path, h->socket_path, sizeof(sa.sun_path));
	sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		KVC_DEBUG("connect %s: %s", sa.sun_path, strerror(e));
		if (e == EACCES || e == EPERM)
			return KVSHM_EPERM;
		return KVSHM_EDAEMON;
	}
	/* Only the user who owns the segment may answer for it. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    cred.uid != owner) {
		close(fd);
		KVC_DEBUG("socket %s: peer is not the segment's owner", sa.sun_path);
		return KVSHM_EPERM;
	}
	*fdp = fd;
	return 0;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * recv_all - @len bytes from @fd. The first wait for them polls for
 * @spin_us (yielding the CPU between polls, so that the daemon runs if
 * it shares our vCPU) before it blocks: a write's reply comes within
 * microseconds, and waking a blocked thread on another vCPU costs tens
 * of them (BENCHMARKS.md, "Writes").
 */
static int recv_all(int fd, char *p, size_t len, uint32_t spin_us)
{
	uint64_t spin_end = spin_us ? kvs_mono_ns() + spin_us * 1000ULL : 0;

	while (len) {
		ssize_t n = recv(fd, p, len, spin_end ? MSG_DONTWAIT : 0);

		if (n < 0 && errno == EAGAIN && spin_end) {
			if (kvs_mono_ns() < spin_end)
				sched_yield();
			else
				spin_end = 0;
			continue;
		}

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * spin_setting - KVSHM_SPIN_US if it is a number of 0 to 1000
 * (microseconds to poll for a reply before blocking; 0: never), else
 * the default of 50.
 */
static uint32_t spin_setting(void)
{
	const char *env = getenv("KVSHM_SPIN_US");
	char *end;
	unsigned long v;

	if (!env || !*env)
		return 50;
	errno = 0;
	v = strtoul(env, &end, 10);
	if (errno || *end || v > 1000 || *env == '-')
		return 50;
	return (uint32_t)v;
}

uint32_t kvc_next_id(struct kvshm *c)
{
	return ++c->next_id;
}

/*
 * exchange - send the framed request in @req over @fd and read its reply
 * into @rep (payload in c->rbuf). @req is emptied. *@broke is set when
 * the stream is out of step afterwards (a timeout, a short read, a
 * malformed reply), *@torn when the request went out only in part.
 */
static int exchange(struct kvshm *c, int fd, struct kvs_wbuf *req,
		    uint16_t op, struct kvc_reply *rep, bool *broke, bool *torn)
{
	struct kvs_frame_hdr want;
	int rc;

	*broke = *torn = false;
	rc = kvs_frame_end(req);
	if (rc < 0) {
		req->len = 0;
		req->err = 0;
		return rc == -ENOMEM ? (errno = ENOMEM, KVSHM_ESYS) : KVSHM_ETOOBIG;
	}
	memcpy(&want, req->p, sizeof(want));
	rc = send_all(fd, req->p, req->len);
	req->len = 0;
	if (rc < 0)
		*torn = true;
	if (rc < 0 ||
	    recv_all(fd, (char *)&rep->h, sizeof(rep->h), c->spin_us) < 0) {
		KVC_DEBUG("op %u: channel failed: %s", op, strerror(errno));
		*broke = true;
		return KVSHM_EDAEMON;
	}
	if (rep->h.id != want.id || rep->h.op != (op | KVS_OP_REPLY) ||
	    rep->h.len > MAX_REPLY) {
		*broke = true;
		return KVSHM_EPROTO;
	}
	if (rep->h.len > c->rcap) {
		char *p = realloc(c->rbuf, rep->h.len);

		if (!p) {
			*broke = true;
			errno = ENOMEM;
			return KVSHM_ESYS;
		}
		c->rbuf = p;
		c->rcap = rep->h.len;
	}
	if (recv_all(fd, c->rbuf, rep->h.len, 0) < 0) {
		*broke = true;
		return KVSHM_EDAEMON;
	}
	kvs_rd_init(&rep->rd, c->rbuf, rep->h.len);
	if (rep->h.status == -EMSGSIZE)		/* daemon closes after this */
		*broke = true;
	return kvc_errno_to_code(rep->h.status);
}

/* Is the daemon behind the current attachment known to be gone? */
static bool cur_gone(const struct kvshm *c)
{
	return c->fd < 0 || c->broken ||
	       kvs_load_acquire(&c->cur->hdr->superseded);
}

int kvc_call(struct kvshm *c, uint16_t op, struct kvc_reply *rep)
{
	bool broke, torn;
	int rc = 0;

	if (kvc_forked(c) || (cur_gone(c) && (rc = kvc_reattach(c)))) {
		c->req.len = 0;
		c->req.err = 0;
		return kvc_forked(c) ? KVSHM_EINVAL : rc;
	}
	rc = exchange(c, c->fd, &c->req, op, rep, &broke, &torn);
	/*
	 * The socket itself stays open until kvshm_close() or a reattach:
	 * the daemon releases a connection's reader slots when it closes,
	 * and this handle's threads may still be reading through them.
	 * Closing here would let the daemon hand those slots to another
	 * process and free memory under our readers.
	 */
	c->broken |= broke;
	c->out_torn |= torn;
	return rc;
}

/* HELLO over @fd: the socket must belong to the daemon that made @a. */
static int hello(struct kvshm *c, int fd, const struct kvc_att *a)
{
	struct kvs_wbuf req = { 0 };
	struct kvc_reply rep;
	bool broke, torn;
	uint64_t gen;
	int rc;

	kvs_frame_begin(&req, KVS_OP_HELLO, 0, kvc_next_id(c), 0);
	kvs_put_u32(&req, KVS_PROTO_VERSION);
	kvs_put_u32(&req, (uint32_t)getpid());
	rc = exchange(c, fd, &req, KVS_OP_HELLO, &rep, &broke, &torn);
	kvs_wbuf_free(&req);
	if (rc)
		return rc == KVSHM_EPROTO ? KVSHM_EVERSION : rc;
	gen = kvs_get_u64(&rep.rd);
	if (kvs_rd_done(&rep.rd) < 0)
		return KVSHM_EPROTO;
	return gen == a->generation ? 0 : KVSHM_EDAEMON;
}

/* Bytes at the start of a data mapping kept until kvshm_close(): the
 * header, which a thread may read without holding any reference. */
static size_t header_keep(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (sizeof(struct kvs_header) + pg - 1) / pg * pg;
}

/*
 * peek_generation - the generation of the segment now served under
 * c->name, read with pread() before mapping anything: 0 if none is
 * published (absent, being built, or already superseded).
 */
static uint64_t peek_generation(const char *shm_name)
{
	struct kvs_header h;
	int fd = shm_open(shm_name, O_RDONLY | O_CLOEXEC, 0);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = pread(fd, &h, sizeof(h), 0);
	close(fd);
	if (n != (ssize_t)sizeof(h) || h.magic != KVS_MAGIC || h.superseded)
		return 0;
	return h.generation;
}

/*
 * attach - map the segments served under c->name, check them, connect to
 * their daemon and greet it. @not_gen: refuse (KVSHM_EDAEMON) a segment
 * of that generation, the one we are already attached to (0: any).
 */
static int attach(struct kvshm *c, uint64_t not_gen, struct kvc_att **ap,
		  int *fdp)
{
	char shm_name[KVS_NAME_MAX + 16];
	struct kvc_att *a;
	uid_t owner, rw_owner;
	const char *env;
	void *base;
	size_t size;
	int rc, fd = -1;

	snprintf(shm_name, sizeof(shm_name), "/kvshm-%s", c->name);
	if (not_gen) {
		uint64_t g = peek_generation(shm_name);

		if (g == 0)
			return KVSHM_EDAEMON;
		if (g == not_gen)
			return KVC_SAME_DAEMON;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		errno = ENOMEM;
		return KVSHM_ESYS;
	}
	rc = map_object(shm_name, false, &base, &size, &owner);
	if (rc)
		goto err_free;
	kvs_map_set(&a->map, base, size);
	a->hdr = base;
	rc = header_check(a->hdr, size);
	if (rc)
		goto err_data;
	a->generation = a->hdr->generation;
	a->max_key = a->hdr->max_key;
	a->hash_seed = a->hdr->hash_seed;
	if (a->generation == not_gen) {
		rc = KVC_SAME_DAEMON;
		goto err_data;
	}
	/*
	 * A new daemon must run as the user of the first: after a stop, the
	 * name is free, and anyone could create objects under it.
	 */
	if (c->owner_known && owner != c->owner) {
		KVC_DEBUG("%s: owned by uid %u, not %u", shm_name,
			  (unsigned int)owner, (unsigned int)c->owner);
		rc = KVSHM_EPERM;
		goto err_data;
	}

	snprintf(shm_name, sizeof(shm_name), "/kvshm-%s.rw", c->name);
	rc = map_object(shm_name, true, &a->rw, &a->rw_size, &rw_owner);
	if (rc)
		goto err_data;
	if (rw_owner != owner) {
		rc = KVSHM_EPERM;
		munmap(a->rw, a->rw_size);
		goto err_data;
	}
	rc = rw_check(a);
	if (rc)
		goto err_rw;
	a->slots = kvs_rw_slots(a->rw);
	a->hints = kvs_rw_hints(a->rw, a->hdr->nslots);
	a->clock_tick = &a->hdr->clock_tick;
	a->map.hints = a->hints;

	rc = connect_daemon(c, a->hdr, owner, &fd);
	if (rc)
		goto err_rw;
	rc = hello(c, fd, a);
	if (rc)
		goto err_sock;

	env = getenv("KVSHM_FENCED");
	a->fenced = !(a->hdr->flags & KVS_HDR_MEMBARRIER) ||
		    (env && strcmp(env, "1") == 0) ||
		    kvs_membarrier_register() < 0;
	a->quick = !a->fenced && a->max_key >= 16;
	KVC_DEBUG("attached name=%s generation=%llu mode=%s", c->name,
		  (unsigned long long)a->generation,
		  a->fenced ? "fenced" : "membarrier");
	*ap = a;
	*fdp = fd;
	c->owner = owner;
	c->owner_known = true;
	return 0;

err_sock:
	close(fd);
err_rw:
	munmap(a->rw, a->rw_size);
err_data:
	munmap(a->map.base, a->map.size);
err_free:
	free(a);
	return rc;
}

/*
 * Unmap what no thread can reach any more: the rw area and the data.
 * Argument checks read limits through c->cur without a reference, so a
 * thread may still read this attachment's header: its page(s) are
 * replaced, in one mremap(), by a private copy, and @a stays allocated
 * until kvshm_close(). Keeping a page of the shared object mapped would
 * keep all of its memory: an unlinked object is freed only when its last
 * mapping goes.
 */
static void att_retire(struct kvc_att *a)
{
	size_t keep = header_keep();
	void *copy;

	if (!a->rw)
		return;
	munmap(a->rw, a->rw_size);
	a->rw = NULL;
	a->slots = NULL;
	a->hints = NULL;
	kvs_map_clear(&a->map);		/* only the header page stays */
	copy = mmap(NULL, keep, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (copy == MAP_FAILED) {
		/* Keep the header mapped; only the rest is freed. */
		if (a->map.size > keep)
			munmap(a->map.base + keep, a->map.size - keep);
		a->map.size = keep;
		return;
	}
	memcpy(copy, a->map.base, keep);
	mprotect(copy, keep, PROT_READ);
	if (a->map.size > keep)
		munmap(a->map.base + keep, a->map.size - keep);
	if (mremap(copy, keep, keep, MREMAP_MAYMOVE | MREMAP_FIXED,
		   a->map.base) == MAP_FAILED)
		munmap(copy, keep);	/* the shared page stays mapped */
	a->map.size = keep;
	KVC_DEBUG("released generation=%llu", (unsigned long long)a->generation);
}

void kvc_att_put(struct kvshm *c, struct kvc_att *a)
{
	if (--a->refs == 0 && a != c->cur)
		att_retire(a);
}

/* BYE on @fd, unless a request was sent there only in part. */
static void say_bye_on(struct kvshm *c, int fd)
{
	struct kvs_wbuf req = { 0 };

	kvs_frame_begin(&req, KVS_OP_BYE, 0, kvc_next_id(c), 0);
	if (kvs_frame_end(&req) == 0)
		send_all(fd, req.p, req.len);
	kvs_wbuf_free(&req);
}

/* Close the connections a reconnect kept: BYE releases their slots. */
static void close_kept(struct kvshm *c, bool bye)
{
	unsigned int i;

	for (i = 0; i < c->nkept; i++) {
		if (bye && !c->kept[i].torn)
			say_bye_on(c, c->kept[i].fd);
		close(c->kept[i].fd);
	}
	c->nkept = 0;
}

/*
 * reconnect - the channel to a daemon that still serves broke (a reply
 * timed out, or was malformed): open a new connection to it. The old one
 * stays open, since the daemon releases a connection's reader slots when
 * it closes and our threads read through them, until kvshm_close().
 */
static int reconnect(struct kvshm *c)
{
	int fd, rc;

	if (c->nkept == KVC_MAX_KEPT)
		return KVSHM_EDAEMON;
	rc = connect_daemon(c, c->cur->hdr, c->owner, &fd);
	if (rc)
		return rc;
	rc = hello(c, fd, c->cur);
	if (rc) {
		close(fd);
		return rc;
	}
	c->kept[c->nkept].fd = c->fd;
	c->kept[c->nkept++].torn = c->out_torn;
	c->fd = fd;
	c->broken = false;
	c->out_torn = false;
	KVC_DEBUG("reconnected name=%s", c->name);
	return 0;
}

/* Make @a (connected on @fd) the current attachment, after @old. */
static int switch_to(struct kvshm *c, struct kvc_att *old, struct kvc_att *a,
		     int fd)
{
	struct kvc_tls *t;

	pthread_mutex_lock(&c->tls_lock);
	a->refs = 1;				/* current */
	a->next = c->atts;
	c->atts = a;
	__atomic_store_n(&c->cur, a, __ATOMIC_RELEASE);
	/* Idle records let go of old attachments now; the others do at
	 * their next read section. */
	for (t = c->recs; t; t = t->next) {
		if (!t->in_use && t->att && t->att != a) {
			kvc_att_put(c, t->att);
			t->att = NULL;
			t->quick = NULL;
			t->slot = NULL;
		}
	}
	kvc_att_put(c, old);			/* no longer current */
	pthread_mutex_unlock(&c->tls_lock);
	/* The old daemon is gone: nothing holds slots for us there. */
	if (c->fd >= 0)
		close(c->fd);
	close_kept(c, false);
	c->fd = fd;
	c->broken = false;
	c->out_torn = false;
	KVC_DEBUG("reattached name=%s generation=%llu", c->name,
		  (unsigned long long)a->generation);
	return 0;
}

int kvc_reattach(struct kvshm *c)
{
	struct kvc_att *old = c->cur, *a;
	int64_t now;
	int fd, rc;

	if (!cur_gone(c))
		return 0;
	/* While no daemon serves, look at most once a millisecond. */
	now = kvs_now_ms();
	if (now < c->retry_ms)
		return c->att_err;
	rc = attach(c, old->generation, &a, &fd);
	if (rc == KVC_SAME_DAEMON)
		rc = reconnect(c);
	else if (rc == 0)
		rc = switch_to(c, old, a, fd);
	if (rc) {
		/* An incompatible or foreign daemon is worth saying so. */
		c->att_err = rc == KVSHM_EVERSION || rc == KVSHM_EPERM ? rc :
			     KVSHM_EDAEMON;
		c->retry_ms = now + 1;
		return c->att_err;
	}
	c->att_err = 0;
	return 0;
}

static void tls_destructor(void *arg)
{
	struct kvc_tls *t = arg;
	struct kvshm *c = t->c;

	kvc_tls_forget(t);
	pthread_mutex_lock(&c->tls_lock);
	if (t->depth)			/* thread exited inside a section */
		kvs_read_exit(t->slot);
	t->depth = 0;
	t->revoked = false;
	t->in_use = false;
	/* A record of an old daemon keeps nothing of it mapped. */
	if (t->att && t->att != c->cur) {
		kvc_att_put(c, t->att);
		t->att = NULL;
		t->quick = NULL;
		t->slot = NULL;
	}
	pthread_mutex_unlock(&c->tls_lock);
}

int kvshm_open(kvshm_t **cp, const char *name, const struct kvshm_open_opts *opts)
{
	size_t osize = 0;
	bool has_flags = false;
	struct kvshm *c;
	struct kvc_att *a;
	int rc, fd;

	if (!cp)
		return KVSHM_EINVAL;
	*cp = NULL;
	if (!name)
		name = "default";
	if (!name_valid(name))
		return KVSHM_EINVAL;
	if (opts)
		osize = opts->struct_size ? opts->struct_size :
						 KVSHM_OPEN_OPTS_SIZE_VER0;
	if (opts && (osize < KVSHM_OPEN_OPTS_SIZE_VER0 || opts->timeout_ms < 0))
		return KVSHM_EINVAL;
	has_flags = osize >= offsetof(struct kvshm_open_opts, flags) +
			    sizeof(opts->flags);
	if (has_flags && (opts->flags & ~(unsigned)KVSHM_OPEN_NO_STALE))
		return KVSHM_EINVAL;
	pthread_once(&atfork_once, atfork_init);
	c = calloc(1, sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return KVSHM_ESYS;
	}
	c->fd = -1;
	c->fork_gen = __atomic_load_n(&kvc_fork_gen, __ATOMIC_RELAXED);
	c->id = __atomic_add_fetch(&kvc_next_handle_id, 1, __ATOMIC_RELAXED);
	c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms :
			DEFAULT_TIMEOUT_MS;
	c->spin_us = spin_setting();
	if (has_flags)
		c->flags = opts->flags;
	strcpy(c->name, name);
	pthread_mutex_init(&c->io_lock, NULL);
	pthread_mutex_init(&c->tls_lock, NULL);

	rc = attach(c, 0, &a, &fd);
	if (rc)
		goto err_free;
	if (pthread_key_create(&c->key, tls_destructor)) {
		errno = EAGAIN;
		rc = KVSHM_ESYS;
		close(fd);
		munmap(a->rw, a->rw_size);
		munmap(a->map.base, a->map.size);
		free(a);
		goto err_free;
	}
	a->refs = 1;
	c->atts = a;
	c->cur = a;
	c->fd = fd;
	*cp = c;
	return 0;

err_free:
	KVC_DEBUG("open %s failed: %s", name, kvshm_strerror(rc));
	pthread_mutex_destroy(&c->io_lock);
	pthread_mutex_destroy(&c->tls_lock);
	free(c);
	return rc;
}

/*
 * Tell the daemon our slots are free; best effort, no reply. Also after a
 * reply timed out: what we sent is still whole frames, so the daemon reads
 * BYE after the request it was slow to answer. Not after a torn send.
 */
static void say_bye(struct kvshm *c)
{
	if (c->fd >= 0 && !c->out_torn)
		say_bye_on(c, c->fd);
}

void kvshm_close(kvshm_t *c)
{
	struct kvc_tls *t, *next;
	struct kvc_att *a, *anext;
	bool inherited;

	if (!c)
		return;
	inherited = kvc_forked(c);
	pthread_key_delete(c->key);	/* no destructor runs after this */
	for (t = c->recs; t; t = next) {
		next = t->next;
		/* An inherited handle's slots are the parent's: hands off. */
		if (t->depth && !inherited)
			kvs_read_exit(t->slot);
		free(t);
	}
	/*
	 * BYE releases our slots at once; without it the daemon keeps them
	 * until this process exits. A child closing an inherited handle
	 * closes only its own copy of the socket and says nothing.
	 */
	if (!inherited)
		say_bye(c);
	if (c->fd >= 0)
		close(c->fd);
	close_kept(c, !inherited);
	kvs_wbuf_free(&c->req);
	free(c->rbuf);
	for (a = c->atts; a; a = anext) {
		anext = a->next;
		if (a->rw)
			munmap(a->rw, a->rw_size);
		munmap(a->map.base, a->map.size);
		free(a);
	}
	pthread_mutex_destroy(&c->io_lock);
	pthread_mutex_destroy(&c->tls_lock);
	free(c);
}

int kvshm_limits(kvshm_t *c, struct kvshm_limits *l)
{
	const struct kvs_header *h;

	if (!c || !l)
		return KVSHM_EINVAL;
	h = kvc_hdr(c);
	l->max_key = h->max_key;
	l->max_value = h->max_value;
	l->max_entries = h->max_entries;
	l->memory = h->heap_size;
	return 0;
}

int kvshm_ping(kvshm_t *c)
{
	struct kvc_reply rep;
	int rc;

	if (!c || kvc_forked(c))
		return KVSHM_EINVAL;
	pthread_mutex_lock(&c->io_lock);
	kvs_frame_begin(&c->req, KVS_OP_PING, 0, kvc_next_id(c), 0);
	rc = kvc_call(c, KVS_OP_PING, &rep);
	pthread_mutex_unlock(&c->io_lock);
	return rc;
}

/* An admin request with no fields whose reply is one text blob. */
static int text_op(kvshm_t *c, uint16_t op, char **text)
{
	struct kvc_reply rep;
	const void *p;
	size_t len;
	int rc;

	if (!c || !text || kvc_forked(c))
		return KVSHM_EINVAL;
	pthread_mutex_lock(&c->io_lock);
	kvs_frame_begin(&c->req, op, 0, kvc_next_id(c), 0);
	rc = kvc_call(c, op, &rep);
	if (rc == 0) {
		p = kvs_get_blob(&rep.rd, &len);
		if (kvs_rd_done(&rep.rd) < 0) {
			rc = KVSHM_EPROTO;
		} else if (!(*text = malloc(len + 1))) {
			errno = ENOMEM;
			rc = KVSHM_ESYS;
		} else {
			memcpy(*text, p, len);
			(*text)[len] = '\0';
		}
	}
	pthread_mutex_unlock(&c->io_lock);
	return rc;
}

int kvshm_stats(kvshm_t *c, char **text)
{
	return text_op(c, KVS_OP_STATS, text);
}

int kvshm_config_get(kvshm_t *c, char **text)
{
	return text_op(c, KVS_OP_CONFIG_GET, text);
}

int kvshm_config_set(kvshm_t *c, const char *key, const char *value)
{
	struct kvc_reply rep;
	int rc;

	if (!c || !key || !value || !*key || kvc_forked(c))
		return KVSHM_EINVAL;
	pthread_mutex_lock(&c->io_lock);
	kvs_frame_begin(&c->req, KVS_OP_CONFIG_SET, 0, kvc_next_id(c), 0);
	kvs_put_blob(&c->req, key, strlen(key));
	kvs_put_blob(&c->req, value, strlen(value));
	rc = kvc_call(c, KVS_OP_CONFIG_SET, &rep);
	if (rc == 0 && kvs_rd_done(&rep.rd) < 0)
		rc = KVSHM_EPROTO;
	pthread_mutex_unlock(&c->io_lock);
	return rc;
}

/* One CLIENTS record (shm/frame.h); bytes after the known fields are a
 * later daemon's additions, skipped. */
static int client_rec(const void *p, size_t len, struct kvshm_client *cl)
{
	struct kvs_rd r;

	kvs_rd_init(&r, p, len);
	memset(cl, 0, sizeof(*cl));
	cl->struct_size = sizeof(*cl);
	cl->pid = (pid_t)kvs_get_u32(&r);
	cl->uid = (uid_t)kvs_get_u32(&r);
	cl->gid = (gid_t)kvs_get_u32(&r);
	cl->flags = kvs_get_u32(&r) & (KVSHM_CLIENT_ORPHAN | KVSHM_CLIENT_SELF |
					KVSHM_CLIENT_STALLED |
					KVSHM_CLIENT_REVOKED);
	cl->slots = kvs_get_u32(&r);
	cl->requests = kvs_get_u64(&r);
	cl->bytes_in = kvs_get_u64(&r);
	cl->bytes_out = kvs_get_u64(&r);
	cl->connected_ms = kvs_get_u64(&r);
	return r.err ? KVSHM_EPROTO : 0;
}

/* The CLIENTS reply: u32 n, n blobs. *@list is malloc()ed. */
static int decode_clients(struct kvs_rd *r, struct kvshm_client **list,
			  uint32_t *np)
{
	uint32_t i, n = kvs_get_u32(r);
	struct kvshm_client *l;
	const void *p;
	size_t len;
	int rc = 0;

	/* Each record takes at least its 4-byte length: bound n first. */
	if (r->err || n > r->left / 4)
		return KVSHM_EPROTO;
	l = calloc(n ? n : 1, sizeof(*l));
	if (!l) {
		errno = ENOMEM;
		return KVSHM_ESYS;
	}
	for (i = 0; i < n && rc == 0; i++) {
		p = kvs_get_blob(r, &len);
		rc = r->err ? KVSHM_EPROTO : client_rec(p, len, &l[i]);
	}
	if (rc == 0 && kvs_rd_done(r) < 0)
		rc = KVSHM_EPROTO;
	if (rc < 0) {
		free(l);
		return rc;
	}
	*list = l;
	*np = n;
	return 0;
}

int kvshm_clients(kvshm_t *c,
		  int (*cb)(const struct kvshm_client *cl, void *arg),
		  void *arg)
{
	struct kvshm_client *list = NULL;
	struct kvc_reply rep;
	uint32_t i, n = 0;
	int rc;

	if (!c || !cb || kvc_forked(c))
		return KVSHM_EINVAL;
	pthread_mutex_lock(&c->io_lock);
	kvs_frame_begin(&c->req, KVS_OP_CLIENTS, 0, kvc_next_id(c), 0);
	rc = kvc_call(c, KVS_OP_CLIENTS, &rep);
	if (rc == 0)
		rc = decode_clients(&rep.rd, &list, &n);
	pthread_mutex_unlock(&c->io_lock);
	/* Outside the lock: @cb may make calls on @c. */
	for (i = 0; rc == 0 && i < n; i++)
		rc = cb(&list[i], arg);
	free(list);
	return rc;
}
