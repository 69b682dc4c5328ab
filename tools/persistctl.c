// SPDX-License-Identifier: MIT
/*
 * tools/persistctl.c - kvshmctl's data-file commands: check-wal and
 * check-snapshot (offline, no daemon), dump and restore (through the
 * public API). The files are read with the daemon's own format code
 * (daemon/persist.c), so a file kvshmctl accepts is one kvshmd accepts.
 *
 * A dump is a snapshot file (persist.h) with LSN 0: `kvshmctl restore`
 * loads dumps and kvshmd snapshots alike, and `lz4 -d` reads both.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kvshm.h"
#include "persist.h"
#include "persistctl.h"

#define PROG "kvshmctl"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *state_name(enum kvp_wal_state s)
{
	switch (s) {
	case KVP_WAL_CLEAN:	return "ok";
	case KVP_WAL_TORN:	return "torn-tail";
	case KVP_WAL_CORRUPT:	return "corrupt";
	case KVP_WAL_BADHDR:	return "bad-header";
	}
	return "?";
}

/*
 * check-wal DIR: every segment, in LSN order, one line each, then a
 * summary. Exit 0 if recovery would use every record (a torn tail only in
 * the newest segment, which recovery truncates), 1 otherwise. A zero
 * tail (a preallocated segment kvshmd did not finish) is the end of the
 * log, not damage: the segment is "ok", with its zero_tail shown.
 */
int ctl_check_wal(const char *dir)
{
	uint64_t *seg, expect = 0, records = 0, entries = 0;
	long n, i;
	int bad = 0;

	n = kvp_list(dir, KVP_WAL_PREFIX, KVP_WAL_SUFFIX, &seg);
	if (n < 0) {
		fprintf(stderr, PROG ": check-wal: %s: %s\n", dir,
			strerror((int)-n));
		return 1;
	}
	for (i = 0; i < n; i++) {
		struct kvp_wal_scan sc;
		char path[4200];
		int rc;

		kvp_wal_path(path, sizeof(path), dir, seg[i]);
		rc = kvp_wal_scan_file(path, &sc, NULL, NULL);
		if (rc < 0) {
			fprintf(stderr, PROG ": check-wal: %s: %s\n", path,
				strerror(-rc));
			bad = 1;
			continue;
		}
		printf("%s: %s first_lsn=%" PRIu64 " last_lsn=%" PRIu64
		       " records=%" PRIu64 " entries=%" PRIu64 " bytes=%" PRIu64,
		       path, state_name(sc.state), sc.first_lsn, sc.last_lsn,
		       sc.records, sc.entries, sc.file_size);
		if (sc.state == KVP_WAL_TORN)
			printf(" valid_bytes=%" PRIu64, sc.valid_end);
		if (sc.zero_tail)
			printf(" valid_bytes=%" PRIu64 " zero_tail=%" PRIu64,
			       sc.valid_end, sc.zero_tail);
		if (sc.state == KVP_WAL_CORRUPT)
			printf(" bad_offset=%" PRIu64, sc.bad_off);
		if (sc.state != KVP_WAL_CLEAN)
			printf(" (%s)", sc.why);
		putchar('\n');
		if (sc.state == KVP_WAL_CORRUPT || sc.state == KVP_WAL_BADHDR ||
		    (sc.state == KVP_WAL_TORN && i != n - 1))
			bad = 1;
		if (sc.state != KVP_WAL_BADHDR) {
			if (expect && sc.first_lsn != expect) {
				printf("%s: LSN gap: %" PRIu64 " was due\n",
				       path, expect);
				bad = 1;
			}
			expect = sc.last_lsn + 1;
		}
		records += sc.records;
		entries += sc.entries;
	}
	free(seg);
	printf("segments=%ld records=%" PRIu64 " entries=%" PRIu64
	       " next_lsn=%" PRIu64 " status=%s\n", n, records, entries,
	       expect ? expect : 1, bad ? "damaged" : "ok");
	return bad;
}

/*
 * check-snapshot FILE: verify all of it, part by part, and print its
 * metadata, then one line per part. Nothing is printed on stdout unless
 * every part is whole.
 */
int ctl_check_snapshot(const char *file)
{
	struct kvp_snap_file *f = NULL;
	struct kvp_snap_meta m;
	struct kvp_snap_scratch scratch = { 0 };
	char why[200];
	uint32_t i;
	int rc = kvp_snap_open(&f, file, &m, why, sizeof(why));

	for (i = 0; rc == 0 && i < m.nparts; i++)
		rc = kvp_snap_read_part(f, i, &scratch, NULL, NULL, why,
					sizeof(why));
	kvp_snap_scratch_free(&scratch);
	if (rc < 0) {
		kvp_snap_close(f);
		fprintf(stderr, PROG ": check-snapshot: %s: %s\n", file,
			rc == -EBADMSG ? why : strerror(-rc));
		return 1;
	}
	printf("%s: ok lsn=%" PRIu64 " keys=%" PRIu64 " raw_bytes=%" PRIu64
	       " created_ms=%" PRId64 " version_hw=%" PRIu64 " format=%u"
	       " parts=%u shards=%u\n", file, m.lsn, m.items, m.raw_bytes,
	       m.created_ms, m.version_hw, m.format, m.nparts, m.nshards);
	for (i = 0; i < m.nparts; i++) {
		const struct kvp_snap_part *pt = kvp_snap_get_part(f, i);

		printf("part=%u offset=%" PRIu64 " bytes=%" PRIu64 " keys=%"
		       PRIu64 " raw_bytes=%" PRIu64, i + 1, pt->off, pt->len,
		       pt->items, pt->raw_bytes);
		if (pt->shards)
			printf(" shards=%u-%u", pt->first_shard,
			       pt->first_shard + pt->shards - 1);
		printf("\n");
	}
	kvp_snap_close(f);
	return 0;
}

struct dump {
	kvshm_t *c;
	struct kvp_snap_writer *w;
	uint64_t keys;
	int rc;			/* a kvshm error, or 0 */
	int err;		/* errno of a file error, or 0 */
};

static int dump_key(const void *key, size_t klen, void *arg)
{
	struct dump *d = arg;
	struct kvp_ent e = { .op = KVP_OP_SET, .key = key, .klen = klen };
	int64_t ttl = -1;
	void *val = NULL;
	size_t vlen = 0;
	int rc;

	rc = kvshm_get_alloc(d->c, key, klen, &val, &vlen);
	if (rc == KVSHM_ENOTFOUND)
		return 0;		/* deleted or expired since the scan */
	if (rc == KVSHM_OK)
		rc = kvshm_ttl(d->c, key, klen, &ttl);
	if (rc == KVSHM_ENOTFOUND) {
		free(val);
		return 0;
	}
	if (rc != KVSHM_OK) {
		free(val);
		d->rc = rc;
		return 1;
	}
	e.val = val;
	e.vlen = vlen;
	e.expire_ms = ttl > 0 ? now_ms() + ttl : 0;
	rc = kvp_snap_add(d->w, &e);
	free(val);
	if (rc < 0) {
		d->err = -rc;
		return 1;
	}
	d->keys++;
	return 0;
}

/*
 * dump [FILE]: every live key, value and expiry, read lock-free from the
 * cache, into FILE (written beside and renamed when complete) or stdout.
 */
int ctl_dump(kvshm_t *c, const char *file)
{
	struct dump d = { .c = c };
	char tmp[4200];
	uint64_t cursor = 0;
	int fd = STDOUT_FILENO, rc;

	if (file && strcmp(file, "-") != 0) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", file);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, PROG ": dump: %s: %s\n", tmp,
				strerror(errno));
			return 1;
		}
	} else {
		file = NULL;
		if (isatty(STDOUT_FILENO)) {
			fprintf(stderr, PROG ": dump: will not write binary "
				"data to a terminal; give a FILE or redirect\n");
			return 2;
		}
	}
	rc = kvp_snap_create(&d.w, fd,
			     &(struct kvp_snap_meta){ .created_ms = now_ms() });
	if (rc < 0) {
		d.err = -rc;
		goto out;
	}
	do {
		rc = kvshm_scan(c, &cursor, NULL, dump_key, &d);
		if (rc != KVSHM_OK && rc != 1) {
			d.rc = rc;
			break;
		}
	} while (rc == KVSHM_OK && cursor != 0);
	if (!d.rc && !d.err && (rc = kvp_snap_finish(d.w, NULL)) < 0)
		d.err = -rc;
	if (!d.rc && !d.err && file && fsync(fd) < 0)
		d.err = errno;
out:
	kvp_snap_free(d.w);
	if (file) {
		if (close(fd) < 0 && !d.err)
			d.err = errno;
		if (!d.rc && !d.err && rename(tmp, file) < 0)
			d.err = errno;
		if (d.rc || d.err)
			unlink(tmp);
	}
	if (d.rc) {
		fprintf(stderr, PROG ": dump: %s\n", kvshm_strerror(d.rc));
		return 1;
	}
	if (d.err) {
		fprintf(stderr, PROG ": dump: %s: %s\n", file ? file : "stdout",
			strerror(d.err));
		return 1;
	}
	fprintf(stderr, PROG ": dump: %" PRIu64 " keys\n", d.keys);
	return 0;
}

/* Restore sends pairs in kvshm_mset() batches of about this many bytes. */
#define RESTORE_BATCH	(4U << 20)

struct restore {
	kvshm_t *c;
	struct kvshm_kv *kv;
	char **own;			/* copies of keys and values */
	size_t n, cap, bytes;
	uint64_t keys, expired;
	int64_t now;
	int rc;
};

static int restore_flush(struct restore *r)
{
	size_t i;
	int rc = KVSHM_OK;

	if (r->n)
		rc = kvshm_mset(r->c, r->kv, r->n);
	for (i = 0; i < r->n; i++)
		free(r->own[i]);
	if (rc == KVSHM_OK)
		r->keys += r->n;
	r->n = 0;
	r->bytes = 0;
	return rc;
}

static int restore_ent(const struct kvp_ent *e, void *arg)
{
	struct restore *r = arg;
	char *copy;

	if (e->expire_ms && e->expire_ms <= r->now) {
		r->expired++;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		struct kvshm_kv *kv = realloc(r->kv, cap * sizeof(*kv));
		char **own = kv ? realloc(r->own, cap * sizeof(*own)) : NULL;

		if (kv)
			r->kv = kv;
		if (!kv || !own) {
			r->rc = KVSHM_ESYS;
			errno = ENOMEM;
			return 1;
		}
		r->own = own;
		r->cap = cap;
	}
	copy = malloc(e->klen + e->vlen + 1);
	if (!copy) {
		r->rc = KVSHM_ESYS;
		errno = ENOMEM;
		return 1;
	}
	memcpy(copy, e->key, e->klen);
	if (e->vlen)
		memcpy(copy + e->klen, e->val, e->vlen);
	r->own[r->n] = copy;
	r->kv[r->n] = (struct kvshm_kv){
		.key = copy, .klen = e->klen, .val = copy + e->klen,
		.vlen = e->vlen,
		.ttl_ms = e->expire_ms ? e->expire_ms - r->now : 0,
	};
	r->n++;
	r->bytes += e->klen + e->vlen + 32;
	if (r->bytes >= RESTORE_BATCH && (r->rc = restore_flush(r)) != KVSHM_OK)
		return 1;
	return 0;
}

/*
 * restore FILE: load a dump or a kvshmd snapshot into the cache, in
 * batches (each batch all or nothing). The file is verified whole first,
 * so a damaged file changes nothing.
 */
int ctl_restore(kvshm_t *c, const char *file)
{
	struct restore r = { .c = c, .now = now_ms() };
	struct kvp_snap_meta m;
	char why[160];
	int rc;

	rc = kvp_snap_read(file, &m, NULL, NULL, why, sizeof(why));
	if (rc == 0)
		rc = kvp_snap_read(file, &m, restore_ent, &r, why, sizeof(why));
	if (rc == 0 && r.rc == KVSHM_OK) {
		r.rc = restore_flush(&r);
	} else {
		size_t i;

		for (i = 0; i < r.n; i++)
			free(r.own[i]);
	}
	free(r.kv);
	free(r.own);
	if (rc < 0) {
		fprintf(stderr, PROG ": restore: %s: %s\n", file,
			rc == -EBADMSG ? why : strerror(-rc));
		return 1;
	}
	if (r.rc != KVSHM_OK) {
		if (r.rc == KVSHM_ESYS)
			fprintf(stderr, PROG ": restore: %s: %s\n",
				kvshm_strerror(r.rc), strerror(errno));
		else
			fprintf(stderr, PROG ": restore: %s (%" PRIu64
				" keys stored before it)\n",
				kvshm_strerror(r.rc), r.keys);
		return 1;
	}
	fprintf(stderr, PROG ": restore: %" PRIu64 " keys stored, %" PRIu64
		" already expired skipped\n", r.keys, r.expired);
	return 0;
}
