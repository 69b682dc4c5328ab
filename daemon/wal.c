// SPDX-License-Identifier: MIT
/*
 * daemon/wal.c - the write-ahead log (see wal.h for how a write becomes
 * durable, persist.h for the format).
 *
 * Segments are preallocated (fallocate(2) to the segment size) and mapped
 * MAP_SHARED: a commit is a memcpy() into the mapping, not a write(2).
 * The page cache holds those bytes exactly as it would hold written ones,
 * so a crash of kvshmd loses nothing it acknowledged, and fdatasync(2) of
 * the file makes them durable as it would written ones; only the system
 * call per event-loop round is gone (~2 us of the server thread's time
 * per round in a VM, the largest part of what the WAL cost a lone
 * unpipelined writer under everysec). Past the records, the file
 * is zeros until the segment is finished: rotation and close cut it to
 * the records' end; after a crash, recovery and check-wal read the zero
 * tail as the end of the log (persist.h). Where fallocate() is refused
 * (a file system without it, or no room for a whole segment), the
 * segment is appended to with write(2) as before.
 *
 * Threads and locks:
 *  - hook (any daemon thread that changes the table, under a shard lock):
 *    builds a record in its thread's staging buffer, then takes @qlock to
 *    give it the next LSN and append it to @queue.
 *  - server thread: kvd_wal_commit() swaps @queue for @spare under @qlock,
 *    copies the swapped-out buffer into the mapping (or writes it) with no
 *    lock held, syncs under fsync=always, rotates segments. It alone
 *    writes @fd's file, maps and unmaps @map, and replaces @fd (under
 *    @fdlock).
 *  - sync thread: under fsync=always as soon as a commit wrote something,
 *    under everysec once a second, fdatasync()s a dup of @fd (taken under
 *    @fdlock), advances @synced_lsn and signals @efd.
 *  - snapshot thread: kvd_wal_trim() lists and unlinks old segments; it
 *    never touches the segment being written (the newest).
 * Lock order: shard lock -> qlock. fdlock is never held with qlock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hist.h"
#include "log.h"
#include "persist.h"
#include "wal.h"

struct kvd_wal {
	char dir[4096];
	const uint64_t *version;	/* the daemon's counter (atomic) */
	uint64_t segment_size;
	int policy;			/* enum kvd_fsync; atomic (SIGHUP) */

	pthread_mutex_t qlock;
	struct kvp_buf queue;		/* sealed records, LSN order */
	struct kvp_buf spare;
	uint64_t lsn;			/* last LSN given; under qlock */
	uint64_t queued;		/* records in queue; under qlock */

	/* server thread only */
	uint64_t seg_bytes;		/* bytes of records (and header) in the
					 * current segment */
	char *map;			/* the current segment, mapped shared,
					 * or NULL: appended with write(2) */
	uint64_t map_size;		/* bytes mapped = the file's size */
	uint64_t populated;		/* pages before this offset were
					 * prefaulted writable (prefault()) */
	uint64_t released;		/* pages before this offset are
					 * unmapped again (release()) */
	bool prealloc_warned;		/* the fallback was logged once */
	uint64_t written_lsn;		/* also read (atomic) by the sync
					 * thread and kvd_wal_written_lsn() */

	pthread_mutex_t fdlock;
	pthread_cond_t cond;		/* wakes the sync thread: a commit
					 * under fsync=always, or close */
	int efd;			/* eventfd: synced_lsn advanced */
	int fd;				/* current segment; under fdlock for
					 * replacement, read freely by the
					 * server thread */
	bool dirty;			/* written, not synced; under fdlock */
	bool stop;
	uint64_t synced_lsn;		/* atomic */
	pthread_t syncer;
	bool has_syncer;

	/* statistics, atomic */
	uint64_t bytes, records, commits;
	struct kvd_hist fsync_lat;	/* every fdatasync() (or fsync() of
					 * a cut) of a segment: the sync
					 * thread, and the server thread at
					 * rotation and close (hist.h:
					 * lock-free) */
};

/*
 * Each thread stages the entries of the event (or batch) it is emitting.
 * The buffer is freed by a key destructor when its thread exits.
 */
static __thread struct kvp_buf *stagep;
static __thread int stage_depth;
static pthread_key_t stage_key;
static pthread_once_t stage_once = PTHREAD_ONCE_INIT;

static void stage_free(void *p)
{
	struct kvp_buf *b = p;

	free(b->p);
	free(b);
}

static void stage_key_make(void)
{
	if (pthread_key_create(&stage_key, stage_free) != 0)
		kvd_die("event=wal_stage_key_failed");
}

static struct kvp_buf *stage_get(void)
{
	if (!stagep) {
		pthread_once(&stage_once, stage_key_make);
		stagep = calloc(1, sizeof(*stagep));
		if (!stagep)
			kvd_die("event=wal_stage_nomem");
		pthread_setspecific(stage_key, stagep);
	}
	return stagep;
}

static const char *const fsync_names[] = { "no", "everysec", "always" };

const char *kvd_fsync_name(enum kvd_fsync f)
{
	return (unsigned)f < 3 ? fsync_names[f] : "?";
}

int kvd_fsync_parse(const char *s, enum kvd_fsync *f)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, fsync_names[i]) == 0) {
			*f = (enum kvd_fsync)i;
			return 0;
		}
	return -EINVAL;
}

static void wal_fatal(const char *what, int err)
{
	kvd_log(LOG_CRIT, "event=wal_failed op=%s errno=%d (%s) action=exit "
		"reason=\"acknowledged writes could no longer be made durable\"",
		what, err, strerror(err));
	_exit(EXIT_FAILURE);
}

/* Tell the server thread that synced_lsn moved (replies may go out). */
static void notify(struct kvd_wal *w)
{
	uint64_t one = 1;

	if (w->efd >= 0 && write(w->efd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		kvd_log(LOG_WARNING, "event=eventfd_write errno=%d", errno);
}

/* synced_lsn only grows, whichever thread syncs last. */
static void advance_synced(struct kvd_wal *w, uint64_t lsn)
{
	uint64_t cur = __atomic_load_n(&w->synced_lsn, __ATOMIC_RELAXED);

	while (lsn > cur &&
	       !__atomic_compare_exchange_n(&w->synced_lsn, &cur, lsn, false,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

/* fdatasync @fd; caller holds fdlock. */
static void sync_fd(struct kvd_wal *w, uint64_t upto_lsn)
{
	int64_t t0 = kvd_mono_us();

	if (fdatasync(w->fd) < 0)
		wal_fatal("fdatasync", errno);
	w->dirty = false;
	kvd_hist_add(&w->fsync_lat, (uint64_t)(kvd_mono_us() - t0));
	advance_synced(w, upto_lsn);
	notify(w);
}

static uint64_t page_round(uint64_t n)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

/*
 * Preallocate @fd to @size bytes and map it shared: the mapping, or NULL
 * with errno set (the caller then appends with write(2)). Blocks are
 * allocated, so a store into the mapping never faults for want of space
 * (no SIGBUS on a full disk). fallocate(2) itself, not posix_fallocate():
 * where the file system cannot preallocate, writing zeros instead would
 * be slower than the write(2) path it is meant to replace.
 */
static char *segment_map(int fd, uint64_t size)
{
	void *p;

	if (fallocate(fd, 0, 0, (off_t)size) < 0)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * Finish the current segment: cut it to its records (dropping the
 * preallocated zeros), sync it if @sync, close it. Caller holds fdlock;
 * the sync thread may be syncing a dup of @fd meanwhile, which is
 * harmless. The cut is synced with fsync(2): the file's size changes.
 */
static void segment_finish(struct kvd_wal *w, uint64_t upto_lsn, bool sync)
{
	if (w->map) {
		munmap(w->map, w->map_size);
		w->map = NULL;
		if (ftruncate(w->fd, (off_t)w->seg_bytes) < 0)
			wal_fatal("ftruncate", errno);
		w->dirty = false;
		if (sync) {
			int64_t t0 = kvd_mono_us();

			if (fsync(w->fd) < 0)
				wal_fatal("fsync", errno);
			kvd_hist_add(&w->fsync_lat,
				     (uint64_t)(kvd_mono_us() - t0));
			advance_synced(w, upto_lsn);
			notify(w);
		}
	} else if (w->dirty && sync) {
		sync_fd(w, upto_lsn);
	}
	close(w->fd);
	w->fd = -1;
}

/*
 * Create segment "wal-<first_lsn>.log", preallocated to the segment size
 * and mapped, and make it the current one; the previous one is finished.
 * A group larger than what is left grows the mapping (segment_grow()).
 */
static int segment_new(struct kvd_wal *w, uint64_t first_lsn)
{
	char path[4200], hdr[KVP_WAL_HDR];
	uint64_t size = page_round(w->segment_size);
	char *map;
	int fd, rc;

	kvp_wal_path(path, sizeof(path), w->dir, first_lsn);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	map = segment_map(fd, size);
	if (!map) {
		if (!w->prealloc_warned)
			kvd_log(LOG_WARNING, "event=wal_prealloc_failed "
				"file=%s errno=%d (%s) effect=\"segments are "
				"appended with write(2)\"", path, errno,
				strerror(errno));
		w->prealloc_warned = true;
	}
	kvp_wal_hdr_put(hdr, first_lsn);
	errno = 0;
	if ((!map && ftruncate(fd, 0) < 0) ||
	    pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    fdatasync(fd) < 0 || kvp_fsync_dir(w->dir) < 0) {
		rc = errno ? -errno : -EIO;
		if (map)
			munmap(map, size);
		close(fd);
		unlink(path);
		return rc;
	}
	pthread_mutex_lock(&w->fdlock);
	if (w->fd >= 0)
		segment_finish(w, first_lsn - 1,
			       __atomic_load_n(&w->policy, __ATOMIC_RELAXED) !=
			       KVD_FSYNC_NO);
	w->fd = fd;
	w->map = map;
	w->map_size = map ? size : 0;
	w->populated = 0;
	w->released = 0;
	w->dirty = false;
	pthread_mutex_unlock(&w->fdlock);
	w->seg_bytes = KVP_WAL_HDR;
	return 0;
}

/*
 * Make room in the mapping for @len more bytes (a group larger than what
 * is left of the preallocation): preallocate further, map again.
 */
static void segment_grow(struct kvd_wal *w, uint64_t len)
{
	uint64_t size = page_round(w->seg_bytes + len);
	void *p;

	if (fallocate(w->fd, 0, 0, (off_t)size) < 0)
		wal_fatal("fallocate", errno);
	p = mremap(w->map, w->map_size, size, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		wal_fatal("mremap", errno);
	w->map = p;
	w->map_size = size;
}

/*
 * Fault in the pages a copy of @len bytes at @off will touch, and
 * KVD_WAL_PREFAULT bytes after them, with one madvise(MADV_POPULATE_WRITE)
 * (Linux 5.14): a first store into a page of the file costs a page fault
 * (~10-15 us in a VM), and one system call for 16 pages costs less than
 * a quarter of 16 faults. Errors only mean that the stores will fault.
 * A sync write-protects the pages again; the next store then takes a
 * cheaper fault (the page is in the cache).
 */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define KVD_WAL_PREFAULT (64 * 1024)

static void prefault(struct kvd_wal *w, uint64_t off, uint64_t len)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t from = w->populated > off ? w->populated : off / pg * pg;
	uint64_t to = page_round(off + len) + KVD_WAL_PREFAULT;

	if (off + len <= w->populated)
		return;
	if (to > w->map_size)
		to = w->map_size;
	if (to > from)
		(void)madvise(w->map + from, to - from, MADV_POPULATE_WRITE);
	w->populated = to;
}

/*
 * Unmap, with one madvise(MADV_DONTNEED), the whole pages before @end
 * once KVD_WAL_RELEASE bytes of them are written: records are never
 * stored into again, and a page that is no longer mapped costs a sync
 * nothing but its write. A sync of a mapped dirty page write-protects its
 * page-table entry and flushes the TLB of every CPU running kvshmd, one
 * page at a time (in this VM a hypercall each, and the server thread's
 * CPU among them); one range zap here replaces a sync's hundreds of
 * them. MADV_DONTNEED on a shared file mapping only drops the page-table
 * entries: a dirty one marks its page-cache page dirty first, so no byte
 * is lost and the sync writes it as before (and kvshmd's RSS stops
 * growing with the segment). Errors only mean that the pages stay.
 */
#define KVD_WAL_RELEASE (256 * 1024)

static void release(struct kvd_wal *w, uint64_t end)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t to = end / pg * pg;

	if (to < w->released + KVD_WAL_RELEASE)
		return;
	(void)madvise(w->map + w->released, to - w->released, MADV_DONTNEED);
	w->released = to;
}

/*
 * Put the group @p, @len bytes, after the segment's records: a copy into
 * the mapping, or one write(2) where the segment is not mapped.
 */
static void segment_append(struct kvd_wal *w, const char *p, size_t len)
{
	uint64_t off = w->seg_bytes;
	int rc;

	if (w->map) {
		if (off + len > w->map_size)
			segment_grow(w, len);
		prefault(w, off, len);
		memcpy(w->map + off, p, len);
		release(w, off + len);
		return;
	}
	rc = kvp_pwrite_full(w->fd, p, len, off);
	if (rc < 0)
		wal_fatal("write", -rc);
}

/*
 * The sync thread. Under fsync=always it syncs as soon as a commit has
 * written something, while the server thread goes on executing and
 * writing the next group (pipelined group commit: one fdatasync covers
 * every record written before it starts); under everysec, once a second.
 * It syncs a dup() of the segment's descriptor outside @fdlock, which the
 * server thread takes on every commit; the dup keeps the file open even
 * if a rotation closes @fd meanwhile (the rotation syncs that file
 * itself, under the lock).
 */
static void *syncer_main(void *arg)
{
	struct kvd_wal *w = arg;
	int64_t last = kvd_mono_us();

	pthread_mutex_lock(&w->fdlock);
	while (!w->stop) {
		int policy = __atomic_load_n(&w->policy, __ATOMIC_RELAXED);
		struct timespec until;
		uint64_t upto;
		int64_t t0;
		int fd;

		if (!(w->dirty && policy == KVD_FSYNC_ALWAYS)) {
			/* re-check 10/s */
			until = kvs_deadline(CLOCK_MONOTONIC, 100);
			pthread_cond_timedwait(&w->cond, &w->fdlock, &until);
			policy = __atomic_load_n(&w->policy, __ATOMIC_RELAXED);
		}
		if (w->stop || !w->dirty || policy == KVD_FSYNC_NO ||
		    (policy == KVD_FSYNC_EVERYSEC &&
		     kvd_mono_us() - last < 1000000))
			continue;
		upto = __atomic_load_n(&w->written_lsn, __ATOMIC_ACQUIRE);
		fd = dup(w->fd);
		if (fd < 0)
			wal_fatal("dup", errno);
		w->dirty = false;
		pthread_mutex_unlock(&w->fdlock);
		t0 = kvd_mono_us();
		if (fdatasync(fd) < 0)
			wal_fatal("fdatasync", errno);
		last = kvd_mono_us();
		kvd_hist_add(&w->fsync_lat, (uint64_t)(last - t0));
		advance_synced(w, upto);
		close(fd);
		notify(w);
		pthread_mutex_lock(&w->fdlock);
	}
	pthread_mutex_unlock(&w->fdlock);
	return NULL;
}

int kvd_wal_open(struct kvd_wal **wp, const char *dir, uint64_t next_lsn,
		 enum kvd_fsync policy, uint64_t segment_size,
		 const uint64_t *version)
{
	pthread_condattr_t ca;
	struct kvd_wal *w;
	int rc;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	w->version = version;
	w->segment_size = segment_size;
	w->policy = policy;
	w->lsn = next_lsn - 1;
	w->written_lsn = next_lsn - 1;
	w->synced_lsn = next_lsn - 1;
	w->fd = -1;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		rc = -errno;
		free(w);
		return rc;
	}
	pthread_mutex_init(&w->qlock, NULL);
	pthread_mutex_init(&w->fdlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = segment_new(w, next_lsn)) < 0) {
		close(w->efd);
		free(w);
		return rc;
	}
	if (pthread_create(&w->syncer, NULL, syncer_main, w) == 0)
		w->has_syncer = true;
	else
		kvd_log(LOG_WARNING, "event=wal_syncer_failed "
			"effect=\"fsync everysec acts as no\"");
	*wp = w;
	return 0;
}

/* Seal the staged entries as one record and queue it. */
static void stage_commit(struct kvd_wal *w)
{
	struct kvp_buf *st = stage_get();
	size_t size;
	char *rec;

	if (st->len == 0)
		return;
	pthread_mutex_lock(&w->qlock);
	size = kvp_rec_size(st->len);
	if (kvp_buf_reserve(&w->queue, size) < 0)
		wal_fatal("queue", ENOMEM);
	rec = w->queue.p + w->queue.len;
	memcpy(rec + KVP_REC_HDR, st->p, st->len);
	kvp_rec_seal(rec, st->len, ++w->lsn,
		     __atomic_load_n(w->version, __ATOMIC_RELAXED));
	w->queue.len += size;
	w->queued++;
	pthread_mutex_unlock(&w->qlock);
	st->len = 0;
}

static void stage_add(const struct kvp_ent *e)
{
	struct kvp_buf *st = stage_get();

	if (kvp_buf_reserve(st, kvp_ent_size(e->klen, e->vlen)) < 0)
		wal_fatal("stage", ENOMEM);
	st->len += kvp_ent_put(st->p + st->len, e);
}

static void on_event(const struct kvd_event_info *ev, void *arg)
{
	struct kvd_wal *w = arg;
	struct kvp_ent e = { .key = ev->key, .klen = ev->klen };

	switch (ev->ev) {
	case KVD_EV_SET:
		e.op = KVP_OP_SET;
		e.val = ev->val;
		e.vlen = ev->vlen;
		e.expire_ms = ev->expire_ms;
		e.version = ev->version;
		break;
	case KVD_EV_DEL:
	case KVD_EV_EVICT:
		/* An eviction is logged like a delete, so a restart does not
		 * bring back what the memory limit pushed out. */
		e.op = KVP_OP_DEL;
		break;
	case KVD_EV_EXPIRE:
		/* Not logged: the SET that gave the key its absolute expiry
		 * already says it is gone by now; recovery skips it. */
		return;
	case KVD_EV_FLUSH:
		e.op = KVP_OP_FLUSH;
		e.klen = 0;
		break;
	case KVD_EV_BATCH_BEGIN:
		stage_depth++;
		return;
	case KVD_EV_BATCH_END:
		if (stage_depth > 0 && --stage_depth == 0)
			stage_commit(w);
		return;
	default:
		return;
	}
	stage_add(&e);
	if (stage_depth == 0)
		stage_commit(w);
}

void kvd_wal_attach(struct kvd_wal *w, struct kvd_hooks *hs)
{
	if (kvd_hook_add(hs, on_event, w) < 0)
		kvd_die("event=hook_table_full module=wal");
}

uint64_t kvd_wal_commit(struct kvd_wal *w)
{
	struct kvp_buf out;
	uint64_t n, last;

	pthread_mutex_lock(&w->qlock);
	if (w->queue.len == 0) {
		pthread_mutex_unlock(&w->qlock);
		return 0;
	}
	out = w->queue;
	w->queue = w->spare;
	w->queue.len = 0;
	n = w->queued;
	w->queued = 0;
	last = w->lsn;
	pthread_mutex_unlock(&w->qlock);

	/* One copy (or write) for the whole group. */
	segment_append(w, out.p, out.len);
	w->seg_bytes += out.len;
	__atomic_fetch_add(&w->bytes, out.len, __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->records, n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->commits, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&w->written_lsn, last, __ATOMIC_RELEASE);
	pthread_mutex_lock(&w->fdlock);
	w->dirty = true;
	if (__atomic_load_n(&w->policy, __ATOMIC_RELAXED) == KVD_FSYNC_ALWAYS) {
		if (w->has_syncer)
			pthread_cond_signal(&w->cond);
		else
			sync_fd(w, last);
	}
	pthread_mutex_unlock(&w->fdlock);

	/* Give the buffer back as the spare (keeping its capacity). */
	out.len = 0;
	pthread_mutex_lock(&w->qlock);
	w->spare = out;
	pthread_mutex_unlock(&w->qlock);

	if (w->seg_bytes >= w->segment_size) {
		int rc = segment_new(w, last + 1);

		if (rc < 0)
			wal_fatal("new_segment", -rc);
	}
	return n;
}

int kvd_wal_event_fd(struct kvd_wal *w)
{
	return w->efd;
}

uint64_t kvd_wal_synced_lsn(struct kvd_wal *w)
{
	return __atomic_load_n(&w->synced_lsn, __ATOMIC_ACQUIRE);
}

uint64_t kvd_wal_written_lsn(struct kvd_wal *w)
{
	return __atomic_load_n(&w->written_lsn, __ATOMIC_ACQUIRE);
}

bool kvd_wal_holds_replies(struct kvd_wal *w)
{
	return __atomic_load_n(&w->policy, __ATOMIC_RELAXED) ==
	       KVD_FSYNC_ALWAYS;
}

uint64_t kvd_wal_last_lsn(struct kvd_wal *w)
{
	uint64_t lsn;

	pthread_mutex_lock(&w->qlock);
	lsn = w->lsn;
	pthread_mutex_unlock(&w->qlock);
	return lsn;
}

void kvd_wal_set_fsync(struct kvd_wal *w, enum kvd_fsync policy)
{
	__atomic_store_n(&w->policy, policy, __ATOMIC_RELAXED);
}

int kvd_wal_trim(struct kvd_wal *w, uint64_t lsn)
{
	uint64_t *seg;
	long n, i;
	int removed = 0;

	n = kvp_list(w->dir, KVP_WAL_PREFIX, KVP_WAL_SUFFIX, &seg);
	/* Segment i holds LSNs [seg[i], seg[i+1]); the last is open. */
	for (i = 0; i + 1 < n; i++) {
		char path[4200];

		if (seg[i + 1] - 1 > lsn)
			break;
		kvp_wal_path(path, sizeof(path), w->dir, seg[i]);
		if (unlink(path) == 0)
			removed++;
		else
			kvd_log(LOG_WARNING, "event=wal_trim_failed file=%s "
				"errno=%d", path, errno);
	}
	free(seg);
	if (removed)
		kvp_fsync_dir(w->dir);
	return removed;
}

void kvd_wal_get_stats(struct kvd_wal *w, struct kvd_wal_stats *st)
{
	uint64_t *seg;
	long n;

	memset(st, 0, sizeof(*st));
	st->lsn = kvd_wal_last_lsn(w);
	st->written_lsn = __atomic_load_n(&w->written_lsn, __ATOMIC_ACQUIRE);
	st->synced_lsn = __atomic_load_n(&w->synced_lsn, __ATOMIC_ACQUIRE);
	st->bytes = __atomic_load_n(&w->bytes, __ATOMIC_RELAXED);
	st->records = __atomic_load_n(&w->records, __ATOMIC_RELAXED);
	st->commits = __atomic_load_n(&w->commits, __ATOMIC_RELAXED);
	kvd_hist_read(&w->fsync_lat, &st->fsync);
	st->policy = (enum kvd_fsync)__atomic_load_n(&w->policy,
						     __ATOMIC_RELAXED);
	n = kvp_list(w->dir, KVP_WAL_PREFIX, KVP_WAL_SUFFIX, &seg);
	st->segments = n > 0 ? (uint64_t)n : 0;
	free(seg);
}

void kvd_wal_close(struct kvd_wal *w)
{
	if (!w)
		return;
	kvd_wal_commit(w);
	pthread_mutex_lock(&w->fdlock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	if (w->dirty)
		sync_fd(w, w->written_lsn);
	pthread_mutex_unlock(&w->fdlock);
	if (w->has_syncer)
		pthread_join(w->syncer, NULL);
	pthread_mutex_lock(&w->fdlock);
	segment_finish(w, w->written_lsn, true);	/* cut the zeros off */
	pthread_mutex_unlock(&w->fdlock);
	close(w->efd);
	free(w->queue.p);
	free(w->spare.p);
	pthread_mutex_destroy(&w->qlock);
	pthread_mutex_destroy(&w->fdlock);
	pthread_cond_destroy(&w->cond);
	free(w);
}
