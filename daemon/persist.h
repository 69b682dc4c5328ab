/* SPDX-License-Identifier: MIT */
/*
 * daemon/persist.h - kvshm's on-disk formats: WAL segments and snapshots.
 *
 * Shared by kvshmd (which writes and recovers them) and kvshmctl (which
 * checks, dumps and restores them offline), so both read files the same
 * way. No daemon state here: only encoding, decoding and verification.
 *
 * All integers are little-endian (the only byte order kvshm runs on is
 * the host's; the magic numbers make a foreign file fail loudly).
 *
 * One entry format serves everywhere: a WAL record is a list of entries,
 * a snapshot's LZ4 frame is a stream of SET entries, and a dump is a
 * snapshot. An entry holds the full resulting state of one key (value and
 * absolute expiry), so applying it twice changes nothing.
 *
 *   entry   u8 op | u8 0 | u16 klen | u32 vlen | i64 expire_ms |
 *           u64 version | key | value                (24 bytes + data)
 *
 *   WAL segment file "wal-<first LSN, 16 hex>.log":
 *           header  "KVSHMWAL" | u32 format | u32 0 | u64 first_lsn |
 *                   u64 XXH3(first 24 bytes)                  (32 bytes)
 *           records, each 8-byte aligned:
 *                   u32 KVP_REC_MAGIC | u32 len | u64 lsn | u64 version_hw |
 *                   u64 XXH3(header with this field 0, then payload) |
 *                   payload (entries, @len bytes) | zero padding to 8
 *           then, in a segment kvshmd preallocated and did not finish
 *           (it died, or the machine did), zero bytes to the end of the
 *           file: the end of the log, not damage (no record starts with
 *           a zero magic)
 *
 *   snapshot "snap-<LSN, 16 hex>.lz4", format 2: a skippable LZ4 frame
 *           with the metadata ("KVSHMSNP" | u32 format | u32 nparts |
 *           u64 lsn | u64 version_hw | i64 created_ms | u64 hash_seed |
 *           u32 nshards | u32 0 | nparts x (u64 offset | u64 length |
 *           u64 items | u64 raw_bytes | u32 first_shard | u32 shards) |
 *           u64 XXH3 of all the preceding metadata bytes), then @nparts
 *           LZ4 frames back to back (content checksum on), part i holding
 *           the entries of shards [first_shard, first_shard + shards) of
 *           the table it was taken from, then a skippable trailer frame
 *           ("KVSHMEND" | u64 items | u64 raw_bytes | u64 XXH3), so
 *           `lz4 -d` decompresses it (concatenated frames) to the raw
 *           entry stream. Parts are independent: recovery loads them on
 *           several threads, each into its own shards.
 *
 *           Format 1 (still read): the same, with "u32 0" for nparts, no
 *           part table (the checksum covers 56 bytes), and one data frame.
 */
#ifndef KVD_PERSIST_H
#define KVD_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kvp_op {
	KVP_OP_SET = 1,		/* key := value, expiry, version */
	KVP_OP_DEL = 2,		/* key absent */
	KVP_OP_FLUSH = 3,	/* every key absent */
};

struct kvp_ent {
	enum kvp_op op;
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
	int64_t expire_ms;	/* absolute, CLOCK_REALTIME ms; 0 = none */
	uint64_t version;
};

#define KVP_ENT_HDR	24
#define KVP_REC_HDR	32
#define KVP_REC_MAGIC	0x4c41574bU	/* "KWAL" */
#define KVP_WAL_HDR	32
#define KVP_WAL_FORMAT	1
#define KVP_SNAP_FORMAT	2	/* written; format 1 is still read */
#define KVP_SNAP_MAX_PARTS 256

static inline size_t kvp_ent_size(size_t klen, size_t vlen)
{
	return KVP_ENT_HDR + klen + vlen;
}

static inline size_t kvp_rec_size(size_t payload)
{
	return KVP_REC_HDR + ((payload + 7) & ~(size_t)7);
}

/* Encode @e at @p (kvp_ent_size() bytes); return the bytes written. */
size_t kvp_ent_put(char *p, const struct kvp_ent *e);

/*
 * kvp_ent_next - decode the entry at *@p (before @end) into @e, whose
 * pointers then point into the buffer, and advance *@p.
 * Return: 1, 0 at @end, or -EBADMSG (truncated or malformed entry).
 */
int kvp_ent_next(const char **p, const char *end, struct kvp_ent *e);

/*
 * kvp_rec_seal - fill in the header of the record at @rec whose @payload
 * bytes of entries follow it, zero its padding, and checksum it.
 * Return the record's size on disk (kvp_rec_size()).
 */
size_t kvp_rec_seal(char *rec, size_t payload, uint64_t lsn,
		    uint64_t version_hw);

struct kvp_rec {
	uint64_t lsn;
	uint64_t version_hw;	/* the daemon's version counter when the
				 * record was made */
	const char *payload;
	size_t len;		/* payload bytes */
	size_t size;		/* bytes on disk, padding included */
};

/*
 * kvp_rec_check - verify the record at @p, with @avail bytes up to the
 * end of the file. Return: 0 (and @r filled), -EAGAIN if it runs past
 * @avail (torn), -EBADMSG if its magic, length or checksum is wrong.
 */
int kvp_rec_check(const char *p, size_t avail, struct kvp_rec *r);

/* A WAL segment file's header. */
void kvp_wal_hdr_put(char *p, uint64_t first_lsn);
int kvp_wal_hdr_check(const char *p, size_t avail, uint64_t *first_lsn);

/*
 * struct kvp_wal_scan - what kvp_wal_scan_file() found in one segment.
 */
enum kvp_wal_state {
	KVP_WAL_CLEAN,		/* whole, valid records, then nothing or a
				 * preallocated tail of zeros (@zero_tail) */
	KVP_WAL_TORN,		/* valid records, then a tail that is not one
				 * (a write cut short, or garbage) and no
				 * valid record after it: safe to truncate */
	KVP_WAL_CORRUPT,	/* an invalid record with valid ones after it,
				 * or LSNs out of order: never truncated */
	KVP_WAL_BADHDR,		/* not a WAL segment of this format */
};

struct kvp_wal_scan {
	enum kvp_wal_state state;
	uint64_t first_lsn;	/* from the header */
	uint64_t last_lsn;	/* of the last valid record; first_lsn - 1 if
				 * none */
	uint64_t records;
	uint64_t entries;
	uint64_t version_hw;	/* of the last valid record */
	uint64_t file_size;
	uint64_t valid_end;	/* offset after the last valid record */
	uint64_t zero_tail;	/* CLEAN: zero bytes after it, to the end of
				 * the file (preallocated, never written) */
	uint64_t bad_off;	/* CORRUPT: where the bad record starts */
	bool unwritten;		/* BADHDR: every byte is zero (created and
				 * preallocated, header never written) */
	char why[128];		/* CORRUPT/BADHDR/TORN: what is wrong */
};

/*
 * kvp_wal_scan_file - read the segment @path, check every record, and
 * call @cb (if not NULL) for each valid one in order; a non-zero return
 * from @cb stops the scan and is returned. LSNs must increase by one from
 * the header's first_lsn.
 * Return: 0 (see @res->state), @cb's value, or -errno (open/read).
 */
int kvp_wal_scan_file(const char *path, struct kvp_wal_scan *res,
		      int (*cb)(const struct kvp_rec *r, void *arg), void *arg);

/* Segment and snapshot file names: "wal-%016llx.log", "snap-%016llx.lz4". */
#define KVP_WAL_PREFIX	"wal-"
#define KVP_WAL_SUFFIX	".log"
#define KVP_SNAP_PREFIX	"snap-"
#define KVP_SNAP_SUFFIX	".lz4"

/* The file of WAL segment @first_lsn, and of snapshot @lsn (+ @ext, such
 * as ".tmp"), in @dir. */
void kvp_wal_path(char *p, size_t n, const char *dir, uint64_t first_lsn);
void kvp_snap_path(char *p, size_t n, const char *dir, uint64_t lsn,
		   const char *ext);

/* fsync(2) the directory @dir, so a file created or renamed in it stays.
 * Return 0 or -errno. */
int kvp_fsync_dir(const char *dir);

/* pwrite(2) all @n bytes of @p at @off of @fd, through short writes and
 * EINTR. Return 0 or -errno (-EIO if a write took nothing). */
int kvp_pwrite_full(int fd, const void *p, size_t n, uint64_t off);

/* A growable byte buffer (the WAL's queues, snapshot staging). */
struct kvp_buf {
	char *p;
	size_t len, cap;
};

/* Make room for @more bytes after @len (capacity doubles, from 64 KiB).
 * Return 0 or -ENOMEM (the buffer is unchanged). */
int kvp_buf_reserve(struct kvp_buf *b, size_t more);

/*
 * kvp_list - the files of @dir named PREFIX<16 hex>SUFFIX, as their
 * numbers, ascending. *@nums is malloc()ed. Return the count or -errno.
 */
long kvp_list(const char *dir, const char *prefix, const char *suffix,
	      uint64_t **nums);

/*
 * XXH32 with seed 0 over a stream of bytes (the LZ4 frame content
 * checksum), computed by libxxhash's own build: see daemon/sum32.c.
 * kvp_sum32_new() returns NULL when out of memory; kvp_sum32_end() frees
 * the state and returns the sum; kvp_sum32_free() frees it unfinished.
 */
struct kvp_sum32;
struct kvp_sum32 *kvp_sum32_new(void);
void kvp_sum32_add(struct kvp_sum32 *s, const void *p, size_t n);
uint32_t kvp_sum32_end(struct kvp_sum32 *s);
void kvp_sum32_free(struct kvp_sum32 *s);

/* ---- snapshots ---- */

struct kvp_snap_meta {
	uint64_t lsn;		/* consistent from: replay the WAL after it */
	uint64_t version_hw;
	int64_t created_ms;
	uint64_t hash_seed;	/* of the table it was taken from (0: none);
				 * entries come shard by shard in that
				 * table's order, so loading with the same
				 * seed and shard count fills one shard's
				 * buckets at a time */
	uint32_t nshards;
	uint32_t format;	/* read: 1 or 2 */
	uint32_t nparts;	/* parts the data is cut into (format 1: 1) */
	uint64_t items;		/* from the trailer */
	uint64_t raw_bytes;	/* entry bytes, uncompressed */
};

/* One part of a snapshot: an LZ4 frame of its own. */
struct kvp_snap_part {
	uint64_t off;		/* of its frame, from the start of the file */
	uint64_t len;		/* the frame's bytes */
	uint64_t items;
	uint64_t raw_bytes;
	uint32_t first_shard;	/* the shards whose entries it holds, in the */
	uint32_t shards;	/* table written (0 shards: not recorded) */
};

struct kvp_snap_writer;

/*
 * kvp_snap_create - start writing a snapshot to the open file @fd, with
 * @m's lsn, version_hw, created_ms, hash_seed and nshards as metadata,
 * cut into @m->nparts parts (0 means 1; at most KVP_SNAP_MAX_PARTS).
 * Each part is opened with kvp_snap_part() (the first one opens itself
 * if entries come before any), and entries are added to the open part
 * with kvp_snap_add(); kvp_snap_finish() closes the last part, writes the
 * trailer and fills in the part table at the start of the file (pwrite:
 * @fd must be a regular file; it does not fsync or close @fd).
 * Return 0 or -errno.
 */
int kvp_snap_create(struct kvp_snap_writer **w, int fd,
		    const struct kvp_snap_meta *m);
/*
 * kvp_snap_part - close the open part, if any, and open the next one,
 * holding shards [@first_shard, @first_shard + @shards) of the table.
 * Return 0, -EINVAL (all @m->nparts parts already opened), or -errno.
 */
int kvp_snap_part(struct kvp_snap_writer *w, uint32_t first_shard,
		  uint32_t shards);
int kvp_snap_add(struct kvp_snap_writer *w, const struct kvp_ent *e);
/* Add @items entries already encoded back to back in @p. */
int kvp_snap_add_raw(struct kvp_snap_writer *w, const char *p, size_t len,
		     uint64_t items);
int kvp_snap_finish(struct kvp_snap_writer *w, struct kvp_snap_meta *m);
void kvp_snap_free(struct kvp_snap_writer *w);

/*
 * kvp_snap_read - verify the snapshot @path and call @cb for each entry
 * (NULL: verify only). The whole file is checked: metadata, every LZ4
 * block and the content checksum, and the trailer's count. @cb's entries
 * may be delivered before a later part of the file proves corrupt: a
 * caller that loads must discard what it loaded on error.
 * Return: 0, @cb's non-zero value, -EBADMSG (corrupt or truncated; @why
 * says what), or -errno.
 */
int kvp_snap_read(const char *path, struct kvp_snap_meta *m,
		  int (*cb)(const struct kvp_ent *e, void *arg), void *arg,
		  char *why, size_t whylen);

/*
 * Reading a snapshot part by part, parts on as many threads as wanted.
 *
 * kvp_snap_open - open the snapshot @path and check its metadata, its part
 * table (parts back to back, covering the data exactly, their counts
 * summing to the trailer's) and its trailer; fill @m. The parts' data is
 * not read: kvp_snap_read_part() checks each part as it decodes it.
 * Return: 0, -EBADMSG (@why says what), or -errno.
 */
struct kvp_snap_file;
int kvp_snap_open(struct kvp_snap_file **f, const char *path,
		  struct kvp_snap_meta *m, char *why, size_t whylen);
void kvp_snap_close(struct kvp_snap_file *f);
const struct kvp_snap_part *kvp_snap_get_part(const struct kvp_snap_file *f,
					      uint32_t i);

/*
 * kvp_snap_read_part - decode part @i of @f, check it whole (its LZ4
 * blocks, content checksum, entries, and the item and byte counts of the
 * part table), and call @cb for each run of entries decoded (NULL: check
 * only). The entries point into @scratch, valid during the call only.
 * @scratch (NULL: one of the call's own) is a reader's buffers, kept by
 * a caller reading several parts so that their memory is reused, and
 * freed with kvp_snap_scratch_free().
 * Like kvp_snap_read(), entries may be delivered before a later byte of
 * the part proves corrupt. Any thread; different threads may read
 * different parts (or the same) of one @f at once.
 * Return: 0, @cb's non-zero value, -EBADMSG (@why says what), or -errno.
 */
typedef int (*kvp_ents_fn)(const struct kvp_ent *e, size_t n, void *arg);
struct kvp_snap_scratch {
	struct kvp_buf in;		/* compressed bytes read */
	struct kvp_buf out;		/* decoded bytes, not yet parsed */
};
void kvp_snap_scratch_free(struct kvp_snap_scratch *s);
int kvp_snap_read_part(struct kvp_snap_file *f, uint32_t i,
		       struct kvp_snap_scratch *scratch, kvp_ents_fn cb,
		       void *arg, char *why, size_t whylen);

/*
 * kvp_snap_peek - the metadata and trailer of a snapshot, from its first
 * and last bytes only (the data is not checked: use kvp_snap_read()).
 * Return: 0, -EBADMSG, or -errno.
 */
int kvp_snap_peek(const char *path, struct kvp_snap_meta *m);

#endif /* KVD_PERSIST_H */
