// SPDX-License-Identifier: MIT
/*
 * daemon/persist.c - encode, decode and verify WAL segments and snapshots
 * (formats in persist.h). Used by kvshmd and, offline, by kvshmctl.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"		/* XXH3, inlined */
#include "persist.h"

static const char wal_magic[8] = { 'K', 'V', 'S', 'H', 'M', 'W', 'A', 'L' };
static const char snap_magic[8] = { 'K', 'V', 'S', 'H', 'M', 'S', 'N', 'P' };
static const char end_magic[8] = { 'K', 'V', 'S', 'H', 'M', 'E', 'N', 'D' };

#define SKIP_META	0x184D2A50U	/* LZ4 skippable frame magics */
#define SKIP_TRAILER	0x184D2A51U
#define SNAP_META_LEN	64
#define SNAP_TRAILER_LEN 32

static void put32(char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

size_t kvp_ent_put(char *p, const struct kvp_ent *e)
{
	uint16_t klen = (uint16_t)e->klen;

	p[0] = (char)e->op;
	p[1] = 0;
	memcpy(p + 2, &klen, 2);
	put32(p + 4, (uint32_t)e->vlen);
	put64(p + 8, (uint64_t)e->expire_ms);
	put64(p + 16, e->version);
	if (e->klen)
		memcpy(p + KVP_ENT_HDR, e->key, e->klen);
	if (e->vlen)
		memcpy(p + KVP_ENT_HDR + e->klen, e->val, e->vlen);
	return kvp_ent_size(e->klen, e->vlen);
}

int kvp_ent_next(const char **pp, const char *end, struct kvp_ent *e)
{
	const char *p = *pp;
	uint16_t klen;
	uint32_t vlen;

	if (p == end)
		return 0;
	if ((size_t)(end - p) < KVP_ENT_HDR)
		return -EBADMSG;
	memcpy(&klen, p + 2, 2);
	vlen = get32(p + 4);
	if ((size_t)(end - p) - KVP_ENT_HDR < (size_t)klen + vlen || p[1] != 0)
		return -EBADMSG;
	e->op = (enum kvp_op)(unsigned char)p[0];
	switch (e->op) {
	case KVP_OP_SET:
		if (klen == 0)
			return -EBADMSG;
		break;
	case KVP_OP_DEL:
		if (klen == 0 || vlen != 0)
			return -EBADMSG;
		break;
	case KVP_OP_FLUSH:
		if (klen != 0 || vlen != 0)
			return -EBADMSG;
		break;
	default:
		return -EBADMSG;
	}
	e->klen = klen;
	e->vlen = vlen;
	e->expire_ms = (int64_t)get64(p + 8);
	e->version = get64(p + 16);
	e->key = p + KVP_ENT_HDR;
	e->val = p + KVP_ENT_HDR + klen;
	*pp = p + kvp_ent_size(klen, vlen);
	return 1;
}

/* The record checksum: its header with the checksum field zero, then the
 * payload. */
static uint64_t rec_sum(const char *rec, size_t payload)
{
	XXH3_state_t st;
	char h[KVP_REC_HDR];

	memcpy(h, rec, KVP_REC_HDR);
	put64(h + 24, 0);
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, h, KVP_REC_HDR);
	XXH3_64bits_update(&st, rec + KVP_REC_HDR, payload);
	return XXH3_64bits_digest(&st);
}

size_t kvp_rec_seal(char *rec, size_t payload, uint64_t lsn,
		    uint64_t version_hw)
{
	size_t size = kvp_rec_size(payload);

	put32(rec, KVP_REC_MAGIC);
	put32(rec + 4, (uint32_t)payload);
	put64(rec + 8, lsn);
	put64(rec + 16, version_hw);
	put64(rec + 24, 0);
	memset(rec + KVP_REC_HDR + payload, 0, size - KVP_REC_HDR - payload);
	put64(rec + 24, rec_sum(rec, payload));
	return size;
}

int kvp_rec_check(const char *p, size_t avail, struct kvp_rec *r)
{
	uint32_t len;
	size_t size;

	if (avail < KVP_REC_HDR)
		return avail >= 4 && get32(p) != KVP_REC_MAGIC ? -EBADMSG
							       : -EAGAIN;
	if (get32(p) != KVP_REC_MAGIC)
		return -EBADMSG;
	len = get32(p + 4);
	size = kvp_rec_size(len);
	if (size > avail)
		return -EAGAIN;
	if (get64(p + 24) != rec_sum(p, len))
		return -EBADMSG;
	r->lsn = get64(p + 8);
	r->version_hw = get64(p + 16);
	r->payload = p + KVP_REC_HDR;
	r->len = len;
	r->size = size;
	return 0;
}

void kvp_wal_hdr_put(char *p, uint64_t first_lsn)
{
	memcpy(p, wal_magic, 8);
	put32(p + 8, KVP_WAL_FORMAT);
	put32(p + 12, 0);
	put64(p + 16, first_lsn);
	put64(p + 24, XXH3_64bits(p, 24));
}

int kvp_wal_hdr_check(const char *p, size_t avail, uint64_t *first_lsn)
{
	if (avail < KVP_WAL_HDR || memcmp(p, wal_magic, 8) != 0 ||
	    get32(p + 8) != KVP_WAL_FORMAT || get64(p + 24) != XXH3_64bits(p, 24))
		return -EBADMSG;
	*first_lsn = get64(p + 16);
	return 0;
}

/* Is there a valid record anywhere in [@from, @end)? Records are 8-byte
 * aligned, so an 8-byte stride finds any. */
static bool valid_record_after(const char *base, size_t from, size_t end)
{
	struct kvp_rec r;
	size_t off;

	for (off = (from + 7) & ~(size_t)7; off + KVP_REC_HDR <= end; off += 8)
		if (get32(base + off) == KVP_REC_MAGIC &&
		    kvp_rec_check(base + off, end - off, &r) == 0)
			return true;
	return false;
}

/* Is every byte of [@p, @end) zero? (A preallocated tail.) */
static bool all_zero(const char *p, const char *end)
{
	uint64_t acc = 0, w;

	while (p < end && ((uintptr_t)p & 7))
		acc |= (uint8_t)*p++;
	for (; end - p >= 8 && !acc; p += 8) {
		memcpy(&w, p, 8);
		acc |= w;
	}
	while (p < end)
		acc |= (uint8_t)*p++;
	return acc == 0;
}

int kvp_wal_scan_file(const char *path, struct kvp_wal_scan *res,
		      int (*cb)(const struct kvp_rec *r, void *arg), void *arg)
{
	struct stat st;
	const char *base = NULL;
	size_t size, off;
	int fd, rc = 0;

	memset(res, 0, sizeof(*res));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	size = (size_t)st.st_size;
	res->file_size = size;
	if (size) {
		base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (base == MAP_FAILED) {
			rc = -errno;
			close(fd);
			return rc;
		}
	}
	close(fd);
	if (kvp_wal_hdr_check(base, size, &res->first_lsn) < 0) {
		res->state = KVP_WAL_BADHDR;
		res->unwritten = !size || all_zero(base, base + size);
		snprintf(res->why, sizeof(res->why), "%s",
			 size < KVP_WAL_HDR ? "shorter than a segment header"
					    : "not a kvshm WAL segment header");
		goto out;
	}
	res->last_lsn = res->first_lsn - 1;
	off = KVP_WAL_HDR;
	while (off < size) {
		struct kvp_rec r;
		int c = kvp_rec_check(base + off, size - off, &r);

		if (c == 0 && r.lsn != res->last_lsn + 1) {
			res->state = KVP_WAL_CORRUPT;
			res->bad_off = off;
			snprintf(res->why, sizeof(res->why),
				 "LSN %" PRIu64 " where %" PRIu64 " was due",
				 r.lsn, res->last_lsn + 1);
			break;
		}
		if (c < 0) {
			if (all_zero(base + off, base + size)) {
				/* Preallocated, never written: the end. */
				res->zero_tail = size - off;
				res->valid_end = off;
				break;
			}
			if (valid_record_after(base, off + 8, size)) {
				res->state = KVP_WAL_CORRUPT;
				res->bad_off = off;
				snprintf(res->why, sizeof(res->why),
					 "bad record (%s) with valid records "
					 "after it",
					 c == -EAGAIN ? "length past the end"
						      : "checksum or magic");
			} else {
				res->state = KVP_WAL_TORN;
				snprintf(res->why, sizeof(res->why),
					 "%zu bytes after the last valid record "
					 "are not a whole record", size - off);
			}
			break;
		}
		res->records++;
		res->last_lsn = r.lsn;
		res->version_hw = r.version_hw;
		{
			const char *p = r.payload, *end = r.payload + r.len;
			struct kvp_ent e;
			int k;

			while ((k = kvp_ent_next(&p, end, &e)) > 0)
				res->entries++;
			if (k < 0) {
				/* Checksummed, yet malformed: written by
				 * something that is not kvshmd. */
				res->state = KVP_WAL_CORRUPT;
				res->bad_off = off;
				snprintf(res->why, sizeof(res->why),
					 "record LSN %" PRIu64 " holds a "
					 "malformed entry", r.lsn);
				res->records--;
				res->last_lsn = r.lsn - 1;
				break;
			}
		}
		if (cb && (rc = cb(&r, arg)) != 0)
			break;
		off += r.size;
		res->valid_end = off;
	}
	if (res->state == KVP_WAL_CLEAN && !res->zero_tail)
		res->valid_end = size;
	else if (res->valid_end == 0)
		res->valid_end = KVP_WAL_HDR;
out:
	if (base)
		munmap((void *)base, size);
	return rc;
}

void kvp_wal_path(char *p, size_t n, const char *dir, uint64_t first_lsn)
{
	snprintf(p, n, "%s/" KVP_WAL_PREFIX "%016" PRIx64 KVP_WAL_SUFFIX, dir,
		 first_lsn);
}

void kvp_snap_path(char *p, size_t n, const char *dir, uint64_t lsn,
		   const char *ext)
{
	snprintf(p, n, "%s/" KVP_SNAP_PREFIX "%016" PRIx64 KVP_SNAP_SUFFIX "%s",
		 dir, lsn, ext);
}

int kvp_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int kvp_buf_reserve(struct kvp_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 65536;
	char *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int num_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

long kvp_list(const char *dir, const char *prefix, const char *suffix,
	      uint64_t **nums)
{
	size_t plen = strlen(prefix), slen = strlen(suffix), n = 0, cap = 0;
	uint64_t *v = NULL;
	struct dirent *de;
	DIR *d = opendir(dir);

	*nums = NULL;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *s = de->d_name;
		size_t len = strlen(s);
		char hex[17], *end;
		uint64_t num;

		if (len != plen + 16 + slen || strncmp(s, prefix, plen) != 0 ||
		    strcmp(s + plen + 16, suffix) != 0)
			continue;
		memcpy(hex, s + plen, 16);
		hex[16] = '\0';
		num = strtoull(hex, &end, 16);
		if (*end)
			continue;
		if (n == cap) {
			uint64_t *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = num;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), num_cmp);
	*nums = v;
	return (long)n;
}

/* ---- snapshots ---- */

#define SNAP_CHUNK	(1U << 20)	/* entries compressed per update */
#define SNAP_META_FIXED	56		/* metadata bytes before the parts */
#define SNAP_PART_LEN	40		/* bytes per part in the metadata */
#define ENT_BATCH	64		/* entries handed to a reader at once */

/* Bytes of the metadata frame's content with @nparts parts (format 1: 0). */
static size_t meta_len(uint32_t nparts)
{
	return SNAP_META_FIXED + (size_t)nparts * SNAP_PART_LEN + 8;
}

struct kvp_snap_writer {
	int fd;
	LZ4F_cctx *cctx;
	LZ4F_preferences_t prefs;
	char *raw;			/* entries not yet compressed */
	size_t rlen;
	char *out;
	size_t ocap;
	uint64_t items, raw_bytes;	/* of the whole snapshot */
	uint64_t off;			/* bytes written to @fd so far */
	struct kvp_snap_meta meta;
	struct kvp_snap_part *parts;	/* [meta.nparts] */
	uint32_t opened;		/* parts opened so far */
	bool open;			/* parts[opened - 1] takes entries */
	int err;
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int emit_bytes(struct kvp_snap_writer *w, const void *p, size_t n)
{
	int rc = write_all(w->fd, p, n);

	if (rc == 0)
		w->off += n;
	return rc;
}

/* The metadata frame, whole, into @p (8 + meta_len(nparts) bytes). */
static void meta_put(char *p, const struct kvp_snap_meta *m,
		     const struct kvp_snap_part *parts)
{
	size_t len = meta_len(m->nparts);
	char *q = p + 8 + SNAP_META_FIXED;
	uint32_t i;

	put32(p, SKIP_META);
	put32(p + 4, (uint32_t)len);
	memcpy(p + 8, snap_magic, 8);
	put32(p + 16, KVP_SNAP_FORMAT);
	put32(p + 20, m->nparts);
	put64(p + 24, m->lsn);
	put64(p + 32, m->version_hw);
	put64(p + 40, (uint64_t)m->created_ms);
	put64(p + 48, m->hash_seed);
	put32(p + 56, m->nshards);
	put32(p + 60, 0);
	for (i = 0; i < m->nparts; i++, q += SNAP_PART_LEN) {
		const struct kvp_snap_part *pt = &parts[i];

		put64(q, pt->off);
		put64(q + 8, pt->len);
		put64(q + 16, pt->items);
		put64(q + 24, pt->raw_bytes);
		put32(q + 32, pt->first_shard);
		put32(q + 36, pt->shards);
	}
	put64(q, XXH3_64bits(p + 8, len - 8));
}

int kvp_snap_create(struct kvp_snap_writer **wp, int fd,
		    const struct kvp_snap_meta *in)
{
	struct kvp_snap_writer *w;
	char *meta;
	int rc;

	if (in->nparts > KVP_SNAP_MAX_PARTS)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->meta = *in;
	w->meta.format = KVP_SNAP_FORMAT;
	if (!w->meta.nparts)
		w->meta.nparts = 1;
	w->parts = calloc(w->meta.nparts, sizeof(*w->parts));
	w->raw = malloc(SNAP_CHUNK);
	w->ocap = LZ4F_compressBound(SNAP_CHUNK, NULL) + LZ4F_HEADER_SIZE_MAX;
	w->out = malloc(w->ocap);
	meta = calloc(1, 8 + meta_len(w->meta.nparts));
	if (!w->parts || !w->raw || !w->out || !meta ||
	    LZ4F_isError(LZ4F_createCompressionContext(&w->cctx, LZ4F_VERSION))) {
		free(meta);
		kvp_snap_free(w);
		return -ENOMEM;
	}
	w->prefs.frameInfo.blockSizeID = LZ4F_max1MB;
	/* Independent blocks decode straight into the reader's buffer (a
	 * linked block needs the previous 64 KiB kept aside and copied). */
	w->prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	w->prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	/* A placeholder: kvp_snap_finish() rewrites it with the part table. */
	meta_put(meta, &w->meta, w->parts);
	rc = emit_bytes(w, meta, 8 + meta_len(w->meta.nparts));
	free(meta);
	if (rc < 0) {
		kvp_snap_free(w);
		return rc;
	}
	*wp = w;
	return 0;
}

static int snap_compress(struct kvp_snap_writer *w, const char *p, size_t len)
{
	while (len) {
		size_t take = len < SNAP_CHUNK ? len : SNAP_CHUNK;
		size_t n = LZ4F_compressUpdate(w->cctx, w->out, w->ocap, p, take,
					       NULL);
		int rc;

		if (LZ4F_isError(n))
			return -EIO;
		if (n && (rc = emit_bytes(w, w->out, n)) < 0)
			return rc;
		p += take;
		len -= take;
	}
	return 0;
}

/* Compress what is staged, end the open part's frame, note its length. */
static int part_close(struct kvp_snap_writer *w)
{
	struct kvp_snap_part *pt = &w->parts[w->opened - 1];
	size_t n;
	int rc;

	if (w->rlen && (rc = snap_compress(w, w->raw, w->rlen)) < 0)
		return rc;
	w->rlen = 0;
	n = LZ4F_compressEnd(w->cctx, w->out, w->ocap, NULL);
	if (LZ4F_isError(n))
		return -EIO;
	if ((rc = emit_bytes(w, w->out, n)) < 0)
		return rc;
	pt->len = w->off - pt->off;
	w->open = false;
	return 0;
}

int kvp_snap_part(struct kvp_snap_writer *w, uint32_t first_shard,
		  uint32_t shards)
{
	struct kvp_snap_part *pt;
	size_t n;
	int rc;

	if (w->err)
		return w->err;
	if (w->open && (rc = part_close(w)) < 0)
		return w->err = rc;
	if (w->opened == w->meta.nparts)
		return -EINVAL;
	pt = &w->parts[w->opened++];
	pt->off = w->off;
	pt->first_shard = first_shard;
	pt->shards = shards;
	n = LZ4F_compressBegin(w->cctx, w->out, w->ocap, &w->prefs);
	if (LZ4F_isError(n))
		return w->err = -EIO;
	if ((rc = emit_bytes(w, w->out, n)) < 0)
		return w->err = rc;
	w->open = true;
	return 0;
}

/* The part entries go to: the open one, or the first, opened now. */
static struct kvp_snap_part *part_cur(struct kvp_snap_writer *w)
{
	if (!w->open && w->opened == 0 && kvp_snap_part(w, 0, 0) < 0)
		return NULL;
	if (!w->open) {
		w->err = w->err ? w->err : -EINVAL;
		return NULL;
	}
	return &w->parts[w->opened - 1];
}

int kvp_snap_add(struct kvp_snap_writer *w, const struct kvp_ent *e)
{
	size_t need = kvp_ent_size(e->klen, e->vlen);
	struct kvp_snap_part *pt = part_cur(w);
	int rc;

	if (w->err)
		return w->err;
	if (w->rlen + need > SNAP_CHUNK && w->rlen) {
		if ((rc = snap_compress(w, w->raw, w->rlen)) < 0)
			return w->err = rc;
		w->rlen = 0;
	}
	if (need > SNAP_CHUNK) {		/* a big value: on its own */
		char *tmp = malloc(need);

		if (!tmp)
			return w->err = -ENOMEM;
		kvp_ent_put(tmp, e);
		rc = snap_compress(w, tmp, need);
		free(tmp);
		if (rc < 0)
			return w->err = rc;
	} else {
		w->rlen += kvp_ent_put(w->raw + w->rlen, e);
	}
	pt->items++;
	pt->raw_bytes += need;
	w->items++;
	w->raw_bytes += need;
	return 0;
}

int kvp_snap_add_raw(struct kvp_snap_writer *w, const char *p, size_t len,
		     uint64_t items)
{
	struct kvp_snap_part *pt = part_cur(w);
	int rc;

	if (w->err)
		return w->err;
	if (w->rlen && (rc = snap_compress(w, w->raw, w->rlen)) < 0)
		return w->err = rc;
	w->rlen = 0;
	if ((rc = snap_compress(w, p, len)) < 0)
		return w->err = rc;
	pt->items += items;
	pt->raw_bytes += len;
	w->items += items;
	w->raw_bytes += len;
	return 0;
}

int kvp_snap_finish(struct kvp_snap_writer *w, struct kvp_snap_meta *m)
{
	char tr[8 + SNAP_TRAILER_LEN], *meta;
	size_t mlen = 8 + meta_len(w->meta.nparts);
	int rc;

	if (w->err)
		return w->err;
	/* Every part announced is written, if need be empty. */
	while (w->opened < w->meta.nparts)
		if ((rc = kvp_snap_part(w, 0, 0)) < 0)
			return rc;
	if (w->open && (rc = part_close(w)) < 0)
		return w->err = rc;
	put32(tr, SKIP_TRAILER);
	put32(tr + 4, SNAP_TRAILER_LEN);
	memcpy(tr + 8, end_magic, 8);
	put64(tr + 16, w->items);
	put64(tr + 24, w->raw_bytes);
	put64(tr + 32, XXH3_64bits(tr + 8, SNAP_TRAILER_LEN - 8));
	if ((rc = emit_bytes(w, tr, sizeof(tr))) < 0)
		return w->err = rc;
	meta = malloc(mlen);
	if (!meta)
		return w->err = -ENOMEM;
	meta_put(meta, &w->meta, w->parts);
	rc = pwrite(w->fd, meta, mlen, 0) == (ssize_t)mlen ? 0
							   : (errno ? -errno : -EIO);
	free(meta);
	if (rc < 0)
		return w->err = rc;
	w->meta.items = w->items;
	w->meta.raw_bytes = w->raw_bytes;
	if (m)
		*m = w->meta;
	return 0;
}

void kvp_snap_free(struct kvp_snap_writer *w)
{
	if (!w)
		return;
	if (w->cctx)
		LZ4F_freeCompressionContext(w->cctx);
	free(w->parts);
	free(w->raw);
	free(w->out);
	free(w);
}

#define WHY(...) snprintf(why, whylen, __VA_ARGS__)

/*
 * Check the metadata frame at @p (@avail bytes of it readable) of a file
 * of @fsize bytes and fill @m; the part table goes to *@parts (malloc()ed)
 * if @parts is not NULL. Format 1 has no table: its one part is made up
 * by the caller, from the trailer.
 */
static int meta_get(const char *p, size_t avail, uint64_t fsize,
		    struct kvp_snap_meta *m, struct kvp_snap_part **parts,
		    char *why, size_t whylen)
{
	uint32_t len, n, i;
	struct kvp_snap_part *pt;
	const char *q;

	if (avail < 8 + meta_len(0) || get32(p) != SKIP_META ||
	    memcmp(p + 8, snap_magic, 8) != 0) {
		WHY("bad metadata frame (not a kvshm snapshot)");
		return -EBADMSG;
	}
	len = get32(p + 4);
	m->format = get32(p + 16);
	n = get32(p + 20);
	if (m->format != 1 && m->format != KVP_SNAP_FORMAT) {
		WHY("format %u, this kvshm reads 1 and %u", m->format,
		    KVP_SNAP_FORMAT);
		return -EBADMSG;
	}
	if ((m->format == 1 && n != 0) ||
	    (m->format == 2 && (n == 0 || n > KVP_SNAP_MAX_PARTS)) ||
	    len != meta_len(n) || 8 + (uint64_t)len > avail ||
	    8 + (uint64_t)len > fsize ||
	    get64(p + 8 + len - 8) != XXH3_64bits(p + 8, len - 8)) {
		WHY("bad metadata frame (checksum or length)");
		return -EBADMSG;
	}
	m->lsn = get64(p + 24);
	m->version_hw = get64(p + 32);
	m->created_ms = (int64_t)get64(p + 40);
	m->hash_seed = get64(p + 48);
	m->nshards = get32(p + 56);
	m->nparts = n ? n : 1;
	if (!parts || n == 0)
		return 0;
	pt = calloc(n, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	for (i = 0, q = p + 8 + SNAP_META_FIXED; i < n; i++, q += SNAP_PART_LEN) {
		pt[i].off = get64(q);
		pt[i].len = get64(q + 8);
		pt[i].items = get64(q + 16);
		pt[i].raw_bytes = get64(q + 24);
		pt[i].first_shard = get32(q + 32);
		pt[i].shards = get32(q + 36);
	}
	*parts = pt;
	return 0;
}

/* Check the trailer at @p (the file's last 40 bytes) into @m. */
static int trailer_get(const char *p, struct kvp_snap_meta *m)
{
	if (get32(p) != SKIP_TRAILER || get32(p + 4) != SNAP_TRAILER_LEN ||
	    memcmp(p + 8, end_magic, 8) != 0 ||
	    get64(p + 32) != XXH3_64bits(p + 8, SNAP_TRAILER_LEN - 8))
		return -EBADMSG;
	m->items = get64(p + 16);
	m->raw_bytes = get64(p + 24);
	return 0;
}

/*
 * Read @n bytes at @off of @fd into @p. Return 0, -EBADMSG when the file
 * ends first (it was cut after it was opened), or -errno.
 */
static int pread_full(int fd, void *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EBADMSG;
		p = (char *)p + r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int kvp_pwrite_full(int fd, const void *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p = (const char *)p + r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* What a failed pread_full() means, for a @why message. */
static const char *read_err(int rc)
{
	return rc == -EBADMSG ? "file cut short" : strerror(-rc);
}

/*
 * head_read - read the metadata frame and the trailer of the snapshot
 * open as @fd (@size bytes, at least 8 + SNAP_TRAILER_LEN): the frame as
 * long as its header says, but no longer than the largest one or the
 * file (meta_get() judges the rest). *@meta (malloc()ed, *@avail bytes)
 * is the caller's to free, also on failure.
 * Return: 0, -ENOMEM, -EBADMSG (the file ended first) or -errno.
 */
static int head_read(int fd, uint64_t size, char **meta, size_t *avail,
		     char tr[8 + SNAP_TRAILER_LEN])
{
	char head[8];
	uint32_t len;
	int rc;

	*meta = NULL;
	*avail = 0;
	if ((rc = pread_full(fd, head, 8, 0)) < 0)
		return rc;
	len = get32(head + 4);
	if (len > meta_len(KVP_SNAP_MAX_PARTS))
		len = meta_len(KVP_SNAP_MAX_PARTS);
	if (8 + (uint64_t)len > size)
		len = (uint32_t)(size - 8);
	if (!(*meta = malloc(8 + len)))
		return -ENOMEM;
	*avail = 8 + len;
	if ((rc = pread_full(fd, *meta, 8 + len, 0)) < 0)
		return rc;
	return pread_full(fd, tr, 8 + SNAP_TRAILER_LEN,
			  size - (8 + SNAP_TRAILER_LEN));
}

int kvp_snap_peek(const char *path, struct kvp_snap_meta *m)
{
	char tr[8 + SNAP_TRAILER_LEN], why[8], *meta = NULL;
	struct stat st;
	size_t avail;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -EBADMSG;

	memset(m, 0, sizeof(*m));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 ||
	    (size_t)st.st_size < 8 + meta_len(0) + sizeof(tr) ||
	    head_read(fd, (uint64_t)st.st_size, &meta, &avail, tr) < 0)
		goto out;
	if (meta_get(meta, avail, (uint64_t)st.st_size, m, NULL, why,
		     sizeof(why)) < 0 || trailer_get(tr, m) < 0)
		goto out;
	rc = 0;
out:
	free(meta);
	close(fd);
	return rc;
}

/*
 * An open snapshot. Parts are read with pread(2) into the reader's own
 * buffer, not through a mapping: on this VM the first touch of each page
 * of a fresh mapping costs more than the kernel's copy out of the page
 * cache (2.7 GB/s against 4.5 GB/s for a cold read of a 110 MB file).
 */
struct kvp_snap_file {
	int fd;
	uint64_t size;
	struct kvp_snap_meta m;
	struct kvp_snap_part *parts;	/* [m.nparts] */
};

void kvp_snap_close(struct kvp_snap_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->parts);
	free(f);
}

void kvp_snap_scratch_free(struct kvp_snap_scratch *s)
{
	free(s->in.p);
	free(s->out.p);
	memset(s, 0, sizeof(*s));
}

const struct kvp_snap_part *kvp_snap_get_part(const struct kvp_snap_file *f,
					      uint32_t i)
{
	return i < f->m.nparts ? &f->parts[i] : NULL;
}

/* Do @f's parts lie back to back from the metadata to the trailer, and
 * add up to the trailer's counts? */
static int parts_check(struct kvp_snap_file *f, char *why, size_t whylen)
{
	uint64_t off = 8 + meta_len(f->m.format == 1 ? 0 : f->m.nparts);
	uint64_t items = 0, raw = 0, end = f->size - 8 - SNAP_TRAILER_LEN;
	uint32_t i;

	if (off > end) {		/* the metadata runs into the trailer */
		WHY("too short for its metadata and trailer");
		return -EBADMSG;
	}
	if (f->m.format == 1) {		/* one frame, all the data */
		f->parts = calloc(1, sizeof(*f->parts));
		if (!f->parts)
			return -ENOMEM;
		*f->parts = (struct kvp_snap_part){ .off = off,
			.len = end - off, .items = f->m.items,
			.raw_bytes = f->m.raw_bytes };
	}
	for (i = 0; i < f->m.nparts; i++) {
		const struct kvp_snap_part *pt = &f->parts[i];

		if (pt->off != off || pt->len > end - off) {
			WHY("part %u of %u is not where the part before it "
			    "ends (truncated or extended file?)", i + 1,
			    f->m.nparts);
			return -EBADMSG;
		}
		off += pt->len;
		items += pt->items;
		raw += pt->raw_bytes;
	}
	if (off != end || items != f->m.items || raw != f->m.raw_bytes) {
		WHY("the parts do not add up to the trailer (%" PRIu64
		    " items, the trailer says %" PRIu64 ")", items, f->m.items);
		return -EBADMSG;
	}
	return 0;
}

int kvp_snap_open(struct kvp_snap_file **fp, const char *path,
		  struct kvp_snap_meta *m, char *why, size_t whylen)
{
	char tr[8 + SNAP_TRAILER_LEN], *meta = NULL;
	struct kvp_snap_file *f;
	struct stat st;
	size_t avail;
	int fd, rc;

	memset(m, 0, sizeof(*m));
	WHY("ok");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		WHY("%s", strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if ((size_t)st.st_size < 8 + meta_len(0) + 8 + SNAP_TRAILER_LEN) {
		close(fd);
		WHY("too short (%zu bytes) to be a snapshot", (size_t)st.st_size);
		return -EBADMSG;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	f->size = (uint64_t)st.st_size;
	rc = head_read(fd, f->size, &meta, &avail, tr);
	if (rc < 0) {
		if (rc != -ENOMEM)
			WHY("read: %s", read_err(rc));
		goto err;
	}
	rc = meta_get(meta, avail, f->size, &f->m, &f->parts, why, whylen);
	if (rc < 0)
		goto err;
	if (trailer_get(tr, &f->m) < 0) {
		WHY("missing or bad trailer (truncated or extended file)");
		rc = -EBADMSG;
		goto err;
	}
	if ((rc = parts_check(f, why, whylen)) < 0)
		goto err;
	free(meta);
	*m = f->m;
	*fp = f;
	return 0;
err:
	free(meta);
	*m = f->m;
	kvp_snap_close(f);
	return rc;
}

/* Hand the @n entries gathered to @cb; its non-zero value stops. */
static int deliver(kvp_ents_fn cb, void *arg, const struct kvp_ent *e,
		   size_t *n, char *why, size_t whylen)
{
	int rc = cb && *n ? cb(e, *n, arg) : 0;

	*n = 0;
	if (rc)
		WHY("stopped by the caller");
	return rc;
}

/*
 * own_checksum - whether frame_read() checks the content checksum of an
 * LZ4 frame whose first bytes are @hd itself, with libxxhash's XXH32
 * (kvp_sum32), and has liblz4 skip its own: Debian's liblz4 1.9.4 builds
 * its XXH32 into a vectorized sequence running at ~1.5 GB/s here, 13% of
 * a snapshot load's CPU time, against 8-9 GB/s for libxxhash's. Only for
 * a frame whose header says it carries a content checksum and no block
 * checksums (what kvshmd writes), so that skipping liblz4's checks never
 * skips a check without doing it here; and only where liblz4 can skip
 * (1.9.4 and later).
 */
static bool own_checksum(const char hd[5])
{
#if LZ4_VERSION_NUMBER >= 10904
	unsigned char flg = (unsigned char)hd[4];

	return get32(hd) == LZ4F_MAGICNUMBER &&
	       (flg & 0x04) && !(flg & 0x10);	/* C.Checksum, !B.Checksum */
#else
	(void)hd;
	return false;
#endif
}

#define READ_CHUNK	(2U << 20)	/* compressed bytes read at once */

/*
 * Decode the one LZ4 frame that is all of the @len bytes at @off of @fd,
 * checking every entry, and count its entries and their bytes. The
 * compressed bytes are read READ_CHUNK at a time into @s->in, decoded
 * into @s->out; a caller reading part after part passes the same @s, so
 * its pages are faulted in once, not per part.
 */
static int frame_read(int fd, uint64_t off, uint64_t len,
		      struct kvp_snap_scratch *s, kvp_ents_fn cb, void *arg,
		      uint64_t *items, uint64_t *raw, char *why,
		      size_t whylen)
{
	LZ4F_dctx *dctx = NULL;
	LZ4F_decompressOptions_t opt = { 0 };
	struct kvp_buf b = s->out;	/* decompressed, not yet parsed */
	struct kvp_buf in = s->in;	/* read, [in.p + ip, in.p + in.len)
					 * not yet decoded */
	struct kvp_ent ents[ENT_BATCH];
	struct kvp_sum32 *sum = NULL;
	uint64_t left = len;		/* not yet read */
	size_t hint = 1, nb = 0, ip = 0;
	char tail[4];
	bool check = false;
	int rc = -EBADMSG, crc;

	*items = *raw = 0;
	b.len = in.len = 0;
	if (kvp_buf_reserve(&b, 4U << 20) < 0 ||
	    kvp_buf_reserve(&in, len < READ_CHUNK ? len : READ_CHUNK) < 0 ||
	    LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
		rc = -ENOMEM;
		goto out;
	}
	while (hint) {
		size_t inn, outn;
		const char *q;
		int k;

		if (ip == in.len && left) {	/* the next chunk */
			size_t n = left < READ_CHUNK ? (size_t)left : READ_CHUNK;

			if ((rc = pread_full(fd, in.p, n, off)) < 0) {
				WHY("read: %s", read_err(rc));
				goto out;
			}
			rc = -EBADMSG;
			if (left == len && n >= 5 && own_checksum(in.p) &&
			    len >= 7 + 4 + 4) {
				if ((rc = pread_full(fd, tail, 4,
						     off + len - 4)) < 0) {
					WHY("read: %s", read_err(rc));
					goto out;
				}
				rc = -EBADMSG;
				if (!(sum = kvp_sum32_new())) {
					rc = -ENOMEM;
					goto out;
				}
				check = true;
#if LZ4_VERSION_NUMBER >= 10904
				opt.skipChecksums = 1;
#endif
			}
			in.len = n;
			ip = 0;
			off += n;
			left -= n;
		}
		/* At least a whole block's room: LZ4 then decodes in place. */
		if (kvp_buf_reserve(&b, 1U << 20) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		inn = in.len - ip;
		outn = b.cap - b.len;
		hint = LZ4F_decompress(dctx, b.p + b.len, &outn, in.p + ip,
				       &inn, &opt);
		if (LZ4F_isError(hint)) {
			WHY("%s", LZ4F_getErrorName(hint));
			goto out;
		}
		if (check)
			kvp_sum32_add(sum, b.p + b.len, outn);
		ip += inn;
		b.len += outn;
		if (hint && inn == 0 && outn == 0 && !left) {
			WHY("truncated inside its frame");
			goto out;
		}
		/* Parse every whole entry; keep a partial one for later. */
		q = b.p;
		for (;;) {
			const char *save = q;

			k = kvp_ent_next(&q, b.p + b.len, &ents[nb]);
			if (k <= 0) {
				q = save;
				break;
			}
			if (ents[nb].op != KVP_OP_SET) {
				WHY("entry %" PRIu64 " is not a SET", *items);
				goto out;
			}
			(*items)++;
			*raw += kvp_ent_size(ents[nb].klen, ents[nb].vlen);
			if (++nb == ENT_BATCH &&
			    (crc = deliver(cb, arg, ents, &nb, why, whylen))) {
				rc = crc;
				goto out;
			}
		}
		/* Before the buffer moves under the entries. */
		if ((crc = deliver(cb, arg, ents, &nb, why, whylen))) {
			rc = crc;
			goto out;
		}
		if (k < 0 && (size_t)(b.p + b.len - q) >= KVP_ENT_HDR) {
			/* A malformed header, or a long entry still coming:
			 * its header says how long it is. */
			uint16_t kl;
			uint32_t vl;
			size_t need;

			memcpy(&kl, q + 2, 2);
			vl = get32(q + 4);
			need = kvp_ent_size(kl, vl);
			if (q[0] != KVP_OP_SET || q[1] != 0 || kl == 0 ||
			    need <= (size_t)(b.p + b.len - q)) {
				WHY("malformed entry after %" PRIu64 " items",
				    *items);
				goto out;
			}
			/* Move the partial entry to the front first, so
			 * growing the buffer keeps it at offset 0. */
			b.len -= (size_t)(q - b.p);
			memmove(b.p, q, b.len);
			if (kvp_buf_reserve(&b, need + (1U << 20) - b.len) < 0) {
				rc = -ENOMEM;
				goto out;
			}
			continue;
		}
		b.len -= (size_t)(q - b.p);
		memmove(b.p, q, b.len);
	}
	if (b.len) {
		WHY("%zu bytes of a partial entry at the end of the data", b.len);
		goto out;
	}
	if (ip != in.len || left) {
		WHY("%" PRIu64 " bytes after the end of its frame",
		    (uint64_t)(in.len - ip) + left);
		goto out;
	}
	/* The frame ends with its content checksum (own_checksum()). */
	if (check) {
		uint32_t v = kvp_sum32_end(sum);

		sum = NULL;
		if (v != get32(tail)) {
			WHY("%s", "content checksum mismatch");
			goto out;
		}
	}
	rc = 0;
out:
	kvp_sum32_free(sum);
	if (dctx)
		LZ4F_freeDecompressionContext(dctx);
	s->out = b;
	s->in = in;
	return rc;
}

int kvp_snap_read_part(struct kvp_snap_file *f, uint32_t i,
		       struct kvp_snap_scratch *scratch, kvp_ents_fn cb,
		       void *arg, char *why, size_t whylen)
{
	const struct kvp_snap_part *pt = kvp_snap_get_part(f, i);
	struct kvp_snap_scratch own = { 0 };
	char w[128];
	uint64_t items, raw;
	int rc;

	if (!pt)
		return -EINVAL;
	rc = frame_read(f->fd, pt->off, pt->len, scratch ? scratch : &own, cb,
			arg, &items, &raw, w, sizeof(w));
	kvp_snap_scratch_free(&own);
	if (rc == 0 && (items != pt->items || raw != pt->raw_bytes)) {
		snprintf(w, sizeof(w), "it holds %" PRIu64 " items of %" PRIu64
			 " bytes, the metadata says %" PRIu64 " of %" PRIu64,
			 items, raw, pt->items, pt->raw_bytes);
		rc = -EBADMSG;
	}
	if (rc == -EBADMSG)
		WHY("part %u of %u (at offset %" PRIu64 "): %s", i + 1,
		    f->m.nparts, pt->off, w);
	else if (rc)
		WHY("%s", w);
	return rc;
}

/* kvp_snap_read()'s callback, one entry at a time. */
struct each {
	int (*cb)(const struct kvp_ent *e, void *arg);
	void *arg;
};

static int each_ent(const struct kvp_ent *e, size_t n, void *arg)
{
	struct each *x = arg;
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		if ((rc = x->cb(&e[i], x->arg)) != 0)
			return rc;
	return 0;
}

int kvp_snap_read(const char *path, struct kvp_snap_meta *m,
		  int (*cb)(const struct kvp_ent *e, void *arg), void *arg,
		  char *why, size_t whylen)
{
	struct each x = { .cb = cb, .arg = arg };
	struct kvp_snap_file *f;
	struct kvp_snap_scratch scratch = { 0 };
	uint32_t i;
	int rc;

	rc = kvp_snap_open(&f, path, m, why, whylen);
	if (rc < 0)
		return rc;
	for (i = 0; i < m->nparts && rc == 0; i++)
		rc = kvp_snap_read_part(f, i, &scratch, cb ? each_ent : NULL,
					&x, why, whylen);
	kvp_snap_scratch_free(&scratch);
	kvp_snap_close(f);
	return rc;
}
