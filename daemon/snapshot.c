// SPDX-License-Identifier: MIT
/*
 * daemon/snapshot.c - fuzzy snapshots, and recovery at start-up (see
 * snapshot.h for why a snapshot taken while writes go on is consistent
 * with the WAL after its LSN).
 *
 * Threads: the snapshot thread runs scheduled and requested snapshots;
 * the server thread asks (kvd_snap_request, kvd_snap_tick) and learns the
 * outcome through an eventfd; at a clean stop the server thread writes
 * the last one itself. @wlock serialises writers; @lock guards the
 * request counters and the statistics.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "epoch.h"
#include "kvshmd.h"
#include "log.h"
#include "persist.h"
#include "snapshot.h"
#include "table.h"
#include "wal.h"

/* Versions given out after a restart start this far above the highest
 * one recovered, so a version a crashed daemon handed out for a write it
 * never logged is not given to a different value. */
#define VERSION_GAP	(1ULL << 24)

/*
 * A snapshot is cut into this many parts (fewer with fewer shards), each
 * a range of shards in an LZ4 frame of its own, so that recovery can load
 * them on as many threads: more parts than threads also evens out parts
 * that take longer. A power of two.
 */
#define SNAP_PARTS	16

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct kvd_snap {
	struct kvd *d;
	char dir[4096];
	uint64_t interval_ms, after_writes;	/* server thread only */
	unsigned int keep;		/* atomic: set by the server thread
					 * (SIGHUP), read by the writer */
	int efd;

	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t req, done;		/* tickets; under lock */
	int last_rc;
	uint64_t last_done_lsn;
	bool stop;
	struct kvd_snap_stats st;	/* under lock */

	pthread_mutex_t wlock;		/* one snapshot written at a time */

	/* server thread only (kvd_snap_tick) */
	int64_t sched_mono_ms;		/* when the last one was asked for */
	uint64_t sched_version;		/* d->version then */
};

/*
 * Copy shard @shard's live items into @b as entries, inside one read
 * section of slot @slot. The section keeps every item and bucket array
 * this reaches alive (shm/epoch.h); the fence makes our epoch visible
 * before any load, as a fenced client's is.
 */
static int copy_shard(struct kvd *d, struct kvs_slot *slot, uint32_t shard,
		      int64_t now, struct kvp_buf *b, uint64_t *items)
{
	struct kvs_barray_view v;
	uint64_t bi;
	int rc = 0;

	kvs_read_enter(d->hdr, slot, true);
	if (kvs_shard_array(&d->index.map, shard, &v) < 0) {
		kvs_read_exit(slot);
		return -EIO;
	}
	for (bi = 0; bi < v.n && rc == 0; bi++) {
		unsigned int i;

		for (i = 0; i < KVS_BUCKET_ENTRIES; i++) {
			uint64_t e = kvs_load_acquire(&v.b[bi].ent[i]);
			struct kvs_iref r;
			struct kvp_ent ent;

			if (kvs_ent_off(e) == 0 || kvs_item_ref(&d->index.map, e,
								&r) < 0 ||
			    kvs_iref_expired(&r, now))
				continue;
			ent = (struct kvp_ent){
				.op = KVP_OP_SET, .key = r.key, .klen = r.klen,
				.val = r.val, .vlen = r.vlen,
				.expire_ms = r.expire_ms, .version = r.version,
			};
			rc = kvp_buf_reserve(b, kvp_ent_size(r.klen, r.vlen));
			if (rc < 0)
				break;
			b->len += kvp_ent_put(b->p + b->len, &ent);
			(*items)++;
		}
	}
	kvs_read_exit(slot);
	return rc;
}

/* Keep the newest @keep snapshots; trim the WAL to the oldest kept. */
static void prune(struct kvd_snap *s)
{
	uint64_t *v;
	long n, i;

	unsigned int keep = __atomic_load_n(&s->keep, __ATOMIC_RELAXED);

	n = kvp_list(s->dir, KVP_SNAP_PREFIX, KVP_SNAP_SUFFIX, &v);
	if (n <= 0)
		return;
	for (i = 0; i + (long)keep < n; i++) {
		char path[4200];

		kvp_snap_path(path, sizeof(path), s->dir, v[i], "");
		if (unlink(path) < 0)
			kvd_log(LOG_WARNING, "event=snapshot_prune_failed "
				"file=%s errno=%d", path, errno);
	}
	kvp_fsync_dir(s->dir);
	if (s->d->wal)
		kvd_wal_trim(s->d->wal, v[i]);
	free(v);
}

static int snap_write(struct kvd_snap *s, struct kvp_snap_meta *m,
		      uint64_t *bytes)
{
	struct kvd *d = s->d;
	struct kvp_snap_writer *w = NULL;
	struct kvp_buf b = { 0 };
	char tmp[4200], path[4200];
	uint64_t lsn, vhw, items;
	uint32_t slot_idx, sh;
	struct kvs_slot *slot;
	struct stat st;
	int64_t now;
	int fd, rc;
	/* Shard counts and SNAP_PARTS are powers of two: parts are equal. */
	uint32_t nparts = d->index.nshards < SNAP_PARTS ? d->index.nshards
							 : SNAP_PARTS;
	uint32_t per_part = d->index.nshards / nparts;

	/* Every change up to @lsn is already in the table (an event, and
	 * so its record, comes after the change is published). */
	lsn = d->wal ? kvd_wal_last_lsn(d->wal) : 0;
	vhw = __atomic_load_n(&d->version, __ATOMIC_RELAXED);
	now = kvs_now_ms();
	kvp_snap_path(tmp, sizeof(tmp), s->dir, lsn, ".tmp");
	kvp_snap_path(path, sizeof(path), s->dir, lsn, "");
	if ((rc = kvd_slot_assign(d->rc, getpid(), &slot_idx)) < 0)
		return rc;
	slot = kvs_rw_slots(d->seg.rw) + slot_idx;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	{
		struct kvp_snap_meta meta = {
			.lsn = lsn, .version_hw = vhw, .created_ms = now,
			.hash_seed = d->hdr->hash_seed,
			.nshards = d->index.nshards, .nparts = nparts,
		};

		if ((rc = kvp_snap_create(&w, fd, &meta)) < 0)
			goto out;
	}
	for (sh = 0; sh < d->index.nshards; sh++) {
		if (sh % per_part == 0 &&
		    (rc = kvp_snap_part(w, sh, per_part)) < 0)
			goto out;
		items = 0;
		b.len = 0;
		if ((rc = copy_shard(d, slot, sh, now, &b, &items)) < 0)
			goto out;
		if (b.len && (rc = kvp_snap_add_raw(w, b.p, b.len, items)) < 0)
			goto out;
	}
	if ((rc = kvp_snap_finish(w, m)) < 0)
		goto out;
	if (fdatasync(fd) < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	*bytes = (uint64_t)st.st_size;
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0 || (rc = kvp_fsync_dir(s->dir)) < 0) {
		rc = rc ? rc : -errno;
		goto out;
	}
	rc = 0;
out:
	kvd_slot_release(d->rc, slot_idx);
	kvp_snap_free(w);
	free(b.p);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* Write one snapshot and account for it. */
static int snap_run(struct kvd_snap *s, uint64_t *lsn_out)
{
	struct kvp_snap_meta m = { 0 };
	int64_t t0 = kvs_mono_ms();
	uint64_t bytes = 0, ms;
	int rc;

	pthread_mutex_lock(&s->wlock);
	pthread_mutex_lock(&s->lock);
	s->st.in_progress = 1;
	pthread_mutex_unlock(&s->lock);
	rc = snap_write(s, &m, &bytes);
	if (rc == 0)
		prune(s);
	ms = (uint64_t)(kvs_mono_ms() - t0);
	pthread_mutex_lock(&s->lock);
	s->st.in_progress = 0;
	if (rc == 0) {
		s->st.count++;
		s->st.last_lsn = m.lsn;
		s->st.last_created_ms = m.created_ms;
		s->st.last_duration_ms = ms;
		s->st.last_bytes = bytes;
		s->st.last_items = m.items;
	} else {
		s->st.failed++;
	}
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->wlock);
	if (rc == 0)
		kvd_log(LOG_INFO, "event=snapshot lsn=%" PRIu64 " keys=%" PRIu64
			" bytes=%" PRIu64 " raw_bytes=%" PRIu64 " ms=%" PRIu64,
			m.lsn, m.items, bytes, m.raw_bytes, ms);
	else
		kvd_log(LOG_ERR, "event=snapshot_failed dir=%s errno=%d (%s)",
			s->dir, -rc, strerror(-rc));
	*lsn_out = m.lsn;
	return rc;
}

static void *snap_main(void *arg)
{
	struct kvd_snap *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		uint64_t target, lsn = 0;
		uint64_t one = 1;
		int rc;

		while (!s->stop && s->done >= s->req)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stop)
			break;
		target = s->req;
		pthread_mutex_unlock(&s->lock);
		rc = snap_run(s, &lsn);
		pthread_mutex_lock(&s->lock);
		s->done = target;
		s->last_rc = rc;
		s->last_done_lsn = lsn;
		if (write(s->efd, &one, sizeof(one)) < 0)
			kvd_log(LOG_WARNING, "event=eventfd_write errno=%d",
				errno);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int kvd_snap_init(struct kvd_snap **sp, struct kvd *d, uint64_t interval_s,
		  uint64_t after_writes, unsigned int keep)
{
	struct kvd_snap *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->d = d;
	snprintf(s->dir, sizeof(s->dir), "%s", d->cfg.data_dir);
	s->interval_ms = interval_s * 1000;
	s->after_writes = after_writes;
	s->keep = keep ? keep : 1;
	s->sched_mono_ms = kvs_mono_ms();
	s->sched_version = __atomic_load_n(&d->version, __ATOMIC_RELAXED);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0 || pthread_create(&s->th, NULL, snap_main, s) != 0) {
		int rc = s->efd < 0 ? -errno : -EAGAIN;

		if (s->efd >= 0)
			close(s->efd);
		free(s);
		return rc;
	}
	*sp = s;
	return 0;
}

void kvd_snap_destroy(struct kvd_snap *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->th, NULL);
	close(s->efd);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->wlock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

void kvd_snap_set_schedule(struct kvd_snap *s, uint64_t interval_s,
			   uint64_t after_writes, unsigned int keep)
{
	s->interval_ms = interval_s * 1000;
	s->after_writes = after_writes;
	__atomic_store_n(&s->keep, keep ? keep : 1, __ATOMIC_RELAXED);
}

int kvd_snap_fd(struct kvd_snap *s)
{
	return s->efd;
}

uint64_t kvd_snap_request(struct kvd_snap *s)
{
	uint64_t t;

	pthread_mutex_lock(&s->lock);
	/* A run already asked for and not yet started serves this too. */
	if (s->req == s->done || s->st.in_progress)
		s->req++;
	t = s->req;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	s->sched_mono_ms = kvs_mono_ms();
	s->sched_version = __atomic_load_n(&s->d->version, __ATOMIC_RELAXED);
	return t;
}

uint64_t kvd_snap_done(struct kvd_snap *s, int *rc, uint64_t *lsn)
{
	uint64_t v, done;

	if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		kvd_log(LOG_WARNING, "event=eventfd_read errno=%d", errno);
	pthread_mutex_lock(&s->lock);
	done = s->done;
	*rc = s->last_rc;
	*lsn = s->last_done_lsn;
	pthread_mutex_unlock(&s->lock);
	return done;
}

void kvd_snap_tick(struct kvd_snap *s)
{
	uint64_t writes = __atomic_load_n(&s->d->version, __ATOMIC_RELAXED) -
			  s->sched_version;
	int64_t now = kvs_mono_ms();
	bool busy;

	if (writes == 0)
		return;
	if (!(s->after_writes && writes >= s->after_writes) &&
	    !(s->interval_ms && (uint64_t)(now - s->sched_mono_ms) >=
				       s->interval_ms))
		return;
	pthread_mutex_lock(&s->lock);
	busy = s->req != s->done;
	pthread_mutex_unlock(&s->lock);
	if (!busy)
		kvd_snap_request(s);
}

int kvd_snap_write_now(struct kvd_snap *s)
{
	uint64_t lsn;

	return snap_run(s, &lsn);
}

void kvd_snap_get_stats(struct kvd_snap *s, struct kvd_snap_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

/* ---- recovery ---- */

struct part_load;

struct load {
	struct kvd *d;
	int64_t now;
	uint64_t from_lsn;		/* records up to here are in the
					 * snapshot */
	uint64_t records, entries;
	uint64_t version_hw;
	uint32_t held;			/* shard locked by the last load */
	struct part_load *pl;		/* loading parts: stop when it says */
	struct kvd_load_stage stage;	/* loading parts: how items are
					 * written */
};

/* One WAL entry: its key may already be in the table. */
static int load_ent(const struct kvp_ent *e, void *arg)
{
	struct load *l = arg;

	l->entries++;
	return kvd_exec_load(l->d, e, l->now, false, &l->held);
}

static int load_rec(const struct kvp_rec *r, void *arg)
{
	struct load *l = arg;
	const char *p = r->payload, *end = r->payload + r->len;
	struct kvp_ent e;
	int rc;

	if (r->version_hw > l->version_hw)
		l->version_hw = r->version_hw;
	if (r->lsn <= l->from_lsn)
		return 0;
	l->records++;
	while (kvp_ent_next(&p, end, &e) > 0)
		if ((rc = load_ent(&e, l)) < 0)
			return rc;
	return 0;
}

#define LOAD_THREADS_MAX	16

/* Threads for recovery's work: --load-threads, or one per online CPU. */
static unsigned int cpu_threads(struct kvd *d)
{
	long n = d->cfg.load_threads;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n > LOAD_THREADS_MAX)
		n = LOAD_THREADS_MAX;
	return n < 1 ? 1 : (unsigned int)n;
}

struct populate_slice {
	char *p;
	size_t len;
};

static void *populate_slice(void *arg)
{
	struct populate_slice *sl = arg;

	if (sl->len)
		madvise(sl->p, sl->len, MADV_POPULATE_WRITE);
	return NULL;
}

/*
 * Fault in [@p, @p + @bytes) for writing, cut in @n slices on as many
 * threads (this one included): the kernel clears each page, which takes
 * a CPU, so n CPUs clear n slices at once. Best effort, as madvise is.
 */
static void populate(char *p, uint64_t bytes, unsigned int n)
{
	struct populate_slice sl[LOAD_THREADS_MAX];
	pthread_t th[LOAD_THREADS_MAX];
	uint64_t per = (bytes / n + (2U << 20) - 1) & ~(uint64_t)((2U << 20) - 1);
	unsigned int i, started = 1;

	bytes &= ~(uint64_t)4095;
	for (i = 0; i < n; i++) {
		uint64_t from = (uint64_t)i * per < bytes ? (uint64_t)i * per
							  : bytes;
		uint64_t to = from + per < bytes ? from + per : bytes;

		sl[i] = (struct populate_slice){ p + from, (size_t)(to - from) };
	}
	for (i = 1; i < n; i++, started++)
		if (pthread_create(&th[i], NULL, populate_slice, &sl[i]) != 0)
			break;
	for (i = started; i < n; i++)	/* threads not started: here */
		populate_slice(&sl[i]);
	populate_slice(&sl[0]);
	for (i = 1; i < started; i++)
		pthread_join(th[i], NULL);
}

/*
 * Grow every shard once, up front, to hold its share of the snapshot's
 * keys: growing step by step while loading would rehash every key several
 * times (each rehash reads every item again). Best effort: a failure here
 * shows up, clearly, as -ENOMEM from the load itself.
 */
static void presize(struct kvd *d, const char *path)
{
	struct kvp_snap_meta m;
	uint64_t per, bytes;
	uint32_t s;

	if (kvp_snap_peek(path, &m) < 0 || m.items == 0)
		return;
	/*
	 * The table is empty and unpublished: no reader has seen its seed.
	 * Taking the snapshot's lets its keys arrive shard by shard, in
	 * bucket order, instead of scattered over every shard.
	 */
	if (m.hash_seed && m.nshards == d->index.nshards &&
	    kvd_index_count(&d->index) == 0)
		d->hdr->hash_seed = m.hash_seed;
	per = m.items / d->index.nshards;
	per += per / 16 + 16;		/* hashing is not perfectly even */
	/*
	 * Fault in the heap pages the bucket arrays will take (a fresh heap
	 * hands out pages from its start, and the arrays come first) with
	 * one call instead of a trap per page. Not the items' pages: those
	 * are written through the file (kvd_exec_load_new()), which gives
	 * the segment its pages as it goes. Best effort: MADV_POPULATE_WRITE
	 * needs Linux 5.14; without it the pages fault in one by one.
	 */
	bytes = 0;
	for (s = 0; s < d->index.nshards; s++)
		bytes += kvd_index_reserve_bytes(&d->index, s, per);
	if (bytes > d->hdr->heap_size)
		bytes = d->hdr->heap_size;
	populate(d->seg.base + d->hdr->heap_off, bytes, cpu_threads(d));
	for (s = 0; s < d->index.nshards; s++) {
		kvd_index_lock(&d->index, s);
		kvd_index_reserve(&d->index, s, per);
		kvd_index_unlock(&d->index, s);
	}
}

/*
 * Loading a snapshot's parts on several threads.
 *
 * Each thread takes the next part not yet taken and loads it whole. The
 * table is empty and has the snapshot's hash seed and shard count (see
 * presize()), so a part's keys all fall in its own range of shards: the
 * threads lock disjoint shards, each once per run of its keys, and meet
 * only in the heap allocator and the hint words (each behind its own
 * lock) and in the table's key count (an atomic). A part that fails
 * stops the others at their next run of entries; the caller then clears
 * the table, so nothing of a bad snapshot survives.
 */
struct part_load {
	struct kvd *d;
	struct kvp_snap_file *f;
	uint32_t nparts;
	int64_t now;
	uint32_t next;			/* atomic: the next part to take */
	int stop;			/* atomic: a part failed */
	uint64_t entries;		/* atomic */
	pthread_mutex_t lock;		/* guards rc, why and the CPU times */
	int rc;				/* the first failure */
	char why[160];
	uint64_t cpu_us_max, cpu_us_sum;	/* of the loading threads */
	int seg_fd;			/* the data segment, or -1 */
};

static uint64_t thread_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int load_ents(const struct kvp_ent *e, size_t n, void *arg)
{
	struct load *l = arg;
	size_t i;
	int rc;

	if (__atomic_load_n(&l->pl->stop, __ATOMIC_RELAXED))
		return -ECANCELED;
	for (i = 0; i < n; i += KVD_LOAD_RUN) {
		size_t k = n - i < KVD_LOAD_RUN ? n - i : KVD_LOAD_RUN;

		l->entries += k;
		rc = kvd_exec_load_new(l->d, &e[i], k, l->now, &l->held,
				       &l->stage);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void *part_loader(void *arg)
{
	struct part_load *pl = arg;
	struct load l = { .d = pl->d, .now = pl->now,
			  .held = KVD_NO_SHARD, .pl = pl,
			  .stage = { .fd = pl->seg_fd } };
	struct kvp_snap_scratch scratch = { 0 };	/* for every part */
	uint64_t cpu0 = thread_cpu_us(), cpu;
	char why[160];

	for (;;) {
		uint32_t i = __atomic_fetch_add(&pl->next, 1, __ATOMIC_RELAXED);
		int rc;

		if (i >= pl->nparts || __atomic_load_n(&pl->stop,
						       __ATOMIC_RELAXED))
			break;
		rc = kvp_snap_read_part(pl->f, i, &scratch, load_ents, &l, why,
					sizeof(why));
		kvd_exec_load_done(pl->d, &l.held);
		if (rc == 0)
			continue;
		/* A thread stopped by another's failure finds rc set. */
		pthread_mutex_lock(&pl->lock);
		if (!pl->rc) {
			pl->rc = rc;
			snprintf(pl->why, sizeof(pl->why), "%s", why);
		}
		pthread_mutex_unlock(&pl->lock);
		__atomic_store_n(&pl->stop, 1, __ATOMIC_RELAXED);
		break;
	}
	kvp_snap_scratch_free(&scratch);
	free(l.stage.buf);
	__atomic_add_fetch(&pl->entries, l.entries, __ATOMIC_RELAXED);
	cpu = thread_cpu_us() - cpu0;
	pthread_mutex_lock(&pl->lock);
	pl->cpu_us_sum += cpu;
	if (cpu > pl->cpu_us_max)
		pl->cpu_us_max = cpu;
	pthread_mutex_unlock(&pl->lock);
	return NULL;
}

/* Threads to load @m's parts with: parallel only into the shards the
 * parts were cut from. */
static unsigned int load_threads(struct kvd *d, const struct kvp_snap_meta *m)
{
	unsigned int n = cpu_threads(d);

	if (m->hash_seed != d->hdr->hash_seed || m->nshards != d->index.nshards)
		return 1;
	return n < m->nparts ? n : m->nparts;
}

/*
 * load_snapshot - load the snapshot @path into the table, its parts on up
 * to load_threads() threads (this one included), and fill @m.
 * Return: 0, -ENOMEM (does not fit), -EBADMSG (@why says why), or -errno.
 * On failure the table holds part of the snapshot: clear it.
 */
static int load_snapshot(struct kvd *d, const char *path, int64_t now,
			 struct kvp_snap_meta *m, unsigned int *threads,
			 char *why, size_t whylen)
{
	struct part_load pl = { .d = d, .now = now };
	pthread_t th[LOAD_THREADS_MAX];
	int64_t t0 = kvs_mono_ms();
	unsigned int n = 1, i;
	int rc;

	*threads = 0;
	rc = kvp_snap_open(&pl.f, path, m, why, whylen);
	if (rc < 0)
		return rc;
	pl.nparts = m->nparts;
	/* Items go in through the file (kvd_exec_load_new()); if it cannot
	 * be opened, through the mapping. */
	pl.seg_fd = shm_open(d->seg.shm_name, O_RDWR | O_CLOEXEC, 0);
	pthread_mutex_init(&pl.lock, NULL);
	for (i = 1; i < load_threads(d, m); i++, n++)
		if (pthread_create(&th[i], NULL, part_loader, &pl) != 0)
			break;		/* fewer threads: slower, no worse */
	part_loader(&pl);
	for (i = 1; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&pl.lock);
	if (pl.seg_fd >= 0)
		close(pl.seg_fd);
	kvp_snap_close(pl.f);
	*threads = n;
	/* The busiest thread's CPU time is what the load would take on idle
	 * CPUs; far below ms, the threads waited for a CPU. */
	if (!pl.rc)
		kvd_log(LOG_INFO, "event=snapshot_loaded file=%s parts=%u "
			"threads=%u ms=%" PRId64 " cpu_ms_max=%" PRIu64
			" cpu_ms_sum=%" PRIu64, path, pl.nparts, n,
			kvs_mono_ms() - t0, pl.cpu_us_max / 1000,
			pl.cpu_us_sum / 1000);
	if (pl.rc)
		snprintf(why, whylen, "%s", pl.why);
	return pl.rc;
}

static void clear_table(struct kvd *d)
{
	struct kvp_ent flush = { .op = KVP_OP_FLUSH };
	uint32_t held = KVD_NO_SHARD;

	kvd_exec_load(d, &flush, 0, false, &held);
}

static void remove_tmp_files(const char *dir)
{
	uint64_t *v;
	long n, i;

	n = kvp_list(dir, KVP_SNAP_PREFIX, KVP_SNAP_SUFFIX ".tmp", &v);
	for (i = 0; i < n; i++) {
		char path[4200];

		kvp_snap_path(path, sizeof(path), dir, v[i], ".tmp");
		unlink(path);
		kvd_log(LOG_INFO, "event=removed_partial_snapshot file=%s", path);
	}
	free(v);
}

#define REFUSE(...) do {						\
	kvd_log(LOG_ERR, "event=recovery_failed " __VA_ARGS__);		\
	rc = -EBADMSG;							\
	goto out;							\
} while (0)

/* Cut the WAL segment @path at @off (a torn tail, or preallocated zeros). */
static int cut_wal(const char *path, uint64_t off)
{
	int err;

	if (truncate(path, (off_t)off) == 0)
		return 0;
	err = errno;
	kvd_log(LOG_ERR, "event=recovery_failed file=%s op=truncate errno=%d",
		path, err);
	return -err;
}

int kvd_recover(struct kvd *d, const char *dir, uint64_t *next_lsn)
{
	uint64_t *snaps = NULL, *wals = NULL, expect, snap_lsn = 0;
	struct load l = { .d = d, .now = kvs_now_ms(), .held = KVD_NO_SHARD };
	struct kvp_snap_meta m = { 0 };
	char path[4200], src[4300] = "none";
	long nsnap, nwal, i;
	int64_t t0 = kvs_mono_ms();
	bool have_snap = false;
	unsigned int threads = 0;
	int rc = 0;

	remove_tmp_files(dir);
	nsnap = kvp_list(dir, KVP_SNAP_PREFIX, KVP_SNAP_SUFFIX, &snaps);
	nwal = kvp_list(dir, KVP_WAL_PREFIX, KVP_WAL_SUFFIX, &wals);
	if (nsnap < 0 || nwal < 0) {
		rc = nsnap < 0 ? (int)nsnap : (int)nwal;
		kvd_log(LOG_ERR, "event=recovery_failed dir=%s errno=%d (%s)",
			dir, -rc, strerror(-rc));
		goto out;
	}

	/* The newest snapshot that loads whole and that the WAL continues. */
	for (i = nsnap - 1; i >= 0; i--) {
		char why[160];

		kvp_snap_path(path, sizeof(path), dir, snaps[i], "");
		if (nwal > 0 && wals[0] > snaps[i] + 1) {
			kvd_log(LOG_WARNING, "event=snapshot_skipped file=%s "
				"reason=\"the WAL after it is gone (first "
				"segment starts at LSN %" PRIu64 ")\"", path,
				wals[0]);
			continue;
		}
		if (nwal == 0 && i != nsnap - 1) {
			kvd_log(LOG_WARNING, "event=snapshot_skipped file=%s "
				"reason=\"older than another and no WAL "
				"continues it\"", path);
			continue;
		}
		presize(d, path);
		rc = load_snapshot(d, path, l.now, &m, &threads, why,
				   sizeof(why));
		if (rc == 0 && m.lsn != snaps[i]) {
			snprintf(why, sizeof(why), "metadata LSN %" PRIu64
				 " differs from its name", m.lsn);
			rc = -EBADMSG;
		}
		if (rc == 0) {
			have_snap = true;
			snap_lsn = m.lsn;
			if (m.version_hw > l.version_hw)
				l.version_hw = m.version_hw;
			snprintf(src, sizeof(src), "%s", path);
			break;
		}
		if (rc == -ENOMEM) {
			kvd_log(LOG_ERR, "event=recovery_failed file=%s "
				"reason=\"the data does not fit in --memory\"",
				path);
			goto out;
		}
		kvd_log(LOG_ERR, "event=snapshot_corrupt file=%s reason=\"%s\" "
			"action=%s", path, why,
			i > 0 ? "try_older_snapshot" : "use_wal_only");
		clear_table(d);
	}
	if (!have_snap && nsnap > 0 && (nwal == 0 || wals[0] != 1))
		REFUSE("dir=%s reason=\"no snapshot could be loaded and the "
		       "WAL does not reach back to the first write\"", dir);

	/* Replay the WAL after the snapshot. */
	l.from_lsn = snap_lsn;
	expect = 0;			/* next LSN due; 0 = not yet known */
	for (i = 0; i < nwal; i++) {
		struct kvp_wal_scan sc;
		bool last = i == nwal - 1;

		if (i + 1 < nwal && wals[i + 1] <= snap_lsn + 1)
			continue;	/* wholly inside the snapshot */
		kvp_wal_path(path, sizeof(path), dir, wals[i]);
		if (expect && wals[i] != expect)
			REFUSE("file=%s reason=\"LSN gap: segment starts at "
			       "%" PRIu64 ", %" PRIu64 " was due\"", path,
			       wals[i], expect);
		if (!expect && wals[i] > snap_lsn + 1)
			REFUSE("file=%s reason=\"LSN gap: the WAL starts at "
			       "%" PRIu64 " but the state ends at %" PRIu64 "\"",
			       path, wals[i], snap_lsn);
		rc = kvp_wal_scan_file(path, &sc, load_rec, &l);
		kvd_exec_load_done(d, &l.held);
		if (rc == -ENOMEM)
			REFUSE("file=%s reason=\"the data does not fit in "
			       "--memory\"", path);
		if (rc < 0) {
			kvd_log(LOG_ERR, "event=recovery_failed file=%s "
				"errno=%d (%s)", path, -rc, strerror(-rc));
			goto out;
		}
		if (sc.state == KVP_WAL_BADHDR) {
			/*
			 * Created, never written: kvshmd stopped between
			 * creating the segment (preallocated: zeros) and
			 * making its header durable. Nothing was in it.
			 */
			if (last && (sc.file_size < KVP_WAL_HDR ||
				     sc.unwritten)) {
				kvd_log(LOG_WARNING, "event=wal_truncated "
					"file=%s bytes_dropped=%" PRIu64
					" reason=\"%s\"", path, sc.file_size,
					sc.file_size < KVP_WAL_HDR ?
					"incomplete header" :
					"created, never written (all zeros)");
				unlink(path);
				break;
			}
			REFUSE("file=%s reason=\"%s\"", path, sc.why);
		}
		if (sc.first_lsn != wals[i])
			REFUSE("file=%s reason=\"header LSN %" PRIu64
			       " differs from its name\"", path, sc.first_lsn);
		if (sc.state == KVP_WAL_CORRUPT)
			REFUSE("file=%s offset=%" PRIu64 " reason=\"%s\" "
			       "hint=\"kvshmctl check-wal shows the damage; "
			       "truncating the file at the offset drops every "
			       "write after it\"", path, sc.bad_off, sc.why);
		if (sc.state == KVP_WAL_TORN) {
			if (!last)
				REFUSE("file=%s offset=%" PRIu64 " reason=\"%s, "
				       "and later segments follow\"", path,
				       sc.valid_end, sc.why);
			if ((rc = cut_wal(path, sc.valid_end)))
				goto out;
			kvd_log(LOG_WARNING, "event=wal_truncated file=%s "
				"offset=%" PRIu64 " bytes_dropped=%" PRIu64
				" reason=\"torn or garbage tail\"", path,
				sc.valid_end, sc.file_size - sc.valid_end);
		}
		if (sc.zero_tail) {
			/* A preallocated segment kvshmd did not finish (it
			 * stopped without a clean close): its zeros are not
			 * data. Cut them, as a clean close would have. */
			if ((rc = cut_wal(path, sc.valid_end)))
				goto out;
			kvd_log(LOG_INFO, "event=wal_prealloc_cut file=%s "
				"offset=%" PRIu64 " zero_bytes=%" PRIu64, path,
				sc.valid_end, sc.zero_tail);
		}
		expect = sc.last_lsn + 1;
	}
	if (expect && expect - 1 < snap_lsn)
		REFUSE("dir=%s reason=\"the WAL ends at LSN %" PRIu64
		       " before the snapshot's %" PRIu64 "\"", dir, expect - 1,
		       snap_lsn);
	*next_lsn = (expect ? expect : snap_lsn + 1);
	if (l.version_hw > d->version)
		d->version = l.version_hw;
	if (nsnap > 0 || nwal > 0)
		d->version += VERSION_GAP;
	kvd_log(LOG_INFO, "event=recovered keys=%" PRIu64 " snapshot=%s "
		"snapshot_keys=%" PRIu64 " snapshot_parts=%u load_threads=%u"
		" wal_records=%" PRIu64 " next_lsn=%" PRIu64 " ms=%" PRId64,
		kvd_index_count(&d->index), src, have_snap ? m.items : 0,
		have_snap ? m.nparts : 0, have_snap ? threads : 0,
		l.records, *next_lsn, kvs_mono_ms() - t0);
	rc = 0;
out:
	kvd_exec_load_done(d, &l.held);
	free(snaps);
	free(wals);
	return rc;
}
