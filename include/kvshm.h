/* SPDX-License-Identifier: MIT */
/*
 * kvshm.h - the kvshm client API (libkvshm, -lkvshm).
 *
 * kvshm is a key-value cache shared by the processes of one host. A daemon,
 * kvshmd, owns the data; this library maps it read-only and reads it
 * directly, with no system call and no lock, and sends every write to the
 * daemon over a Unix socket.
 *
 * This is the only installed header. It never exposes the shared-memory
 * layout, which may change between releases (a mismatch is KVSHM_EVERSION).
 *
 * Conventions, for every function below:
 *  - Return 0 (KVSHM_OK) or one of the negative KVSHM_E* codes, never -errno.
 *    KVSHM_ESYS leaves the cause in errno.
 *  - Keys and values are binary-safe byte strings; the caller owns every
 *    buffer it passes in, and the library keeps no reference after return
 *    (except views, see kvshm_view()).
 *  - Any thread may call any function on a shared handle, except that
 *    kvshm_close() must not race with other calls on the same handle.
 *  - fork(): a child must not use a handle inherited from its parent; it
 *    calls kvshm_open() for a handle of its own. (The inherited handle shares
 *    the parent's socket and reader slots; using it in the child is undefined.)
 */
#ifndef KVSHM_H
#define KVSHM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function returns 0 or one of these. Codes never change value. */
enum kvshm_error {
	KVSHM_OK	= 0,
	KVSHM_ENOTFOUND	= -1000,	/* key absent or expired */
	KVSHM_EEXISTS	= -1001,	/* KVSHM_NX and the key is present */
	KVSHM_ETOOSMALL	= -1002,	/* buffer too small; *vlen = size needed */
	KVSHM_EINVAL	= -1003,	/* bad argument */
	KVSHM_ESYS	= -1004,	/* a system call failed; errno says why */
	KVSHM_ETOOBIG	= -1005,	/* key or value over the daemon's limit */
	KVSHM_ENOMEM	= -1006,	/* cache full and eviction cannot help */
	KVSHM_ENOTINT	= -1007,	/* value is not a decimal 64-bit integer */
	KVSHM_EOVERFLOW	= -1008,	/* increment would overflow int64_t */
	KVSHM_EPERM	= -1009,	/* permission denied (map or connect) */
	KVSHM_EDAEMON	= -1010,	/* no daemon serves this name */
	KVSHM_EVERSION	= -1011,	/* segment layout differs from library */
	KVSHM_EPROTO	= -1012,	/* malformed frame on the write channel */
	KVSHM_ECHANGED	= -1013,	/* compare-and-set: the key's version
					 * is not the one expected */
	KVSHM_EREVOKED	= -1014,	/* kvshm_read_unlock(): kvshmd stopped
					 * waiting for the section (it was
					 * open longer than the daemon's
					 * --reader-revoke-ms); views taken in
					 * it may show other data */
	/* New codes go here, next value down. Never renumber. */
	KVSHM_E_LAST	= -1015,
};

/* kvshm_set() flags; also conditions of kvshm_batch() operations. */
enum {
	KVSHM_NX = 1,	/* store only if the key is absent (SETNX) */
	KVSHM_XX = 2,	/* store only if the key is present */
	KVSHM_IFVERSION = 4,	/* kvshm_batch() only: only if the key has
				 * the op's version (0: only if absent) */
};

typedef struct kvshm kvshm_t;

/* kvshm_open_opts.flags */
enum {
	/* Once the daemon is known to be gone (it stopped, or a new one
	 * replaced it and is not serving yet), reads fail with
	 * KVSHM_EDAEMON instead of returning the last data it stored. */
	KVSHM_OPEN_NO_STALE = 1,
};

/*
 * struct kvshm_open_opts - optional settings for kvshm_open().
 * @struct_size: sizeof(struct kvshm_open_opts) as the caller compiled it;
 *               lets later releases add fields. 0 is treated as
 *               KVSHM_OPEN_OPTS_SIZE_VER0 (the fields up to timeout_ms).
 * @timeout_ms:  how long a write or admin request may wait for the
 *               daemon before it fails with KVSHM_EDAEMON; 0 = 5000.
 * @flags:       KVSHM_OPEN_*; read only if struct_size covers it.
 *
 * Zero-initialise, then set what you need.
 */
struct kvshm_open_opts {
	unsigned int struct_size;
	int timeout_ms;
	unsigned int flags;
};

/* The size of the first struct kvshm_open_opts (no flags). */
#define KVSHM_OPEN_OPTS_SIZE_VER0	8

/*
 * kvshm_strerror - a static, human-readable message for @code.
 * Unknown codes give "unknown kvshm error". Thread-safe.
 */
const char *kvshm_strerror(int code);

/*
 * kvshm_open - attach to the cache served under @name.
 * @c:    set to a new handle on success.
 * @name: the daemon's --name, [A-Za-z0-9._-], 1..64 characters;
 *        NULL means "default".
 * @opts: NULL for defaults.
 *
 * Maps the data segment read-only, maps the reader area, and connects to
 * the daemon's socket (the write channel). The reader slots the handle's
 * threads get are released by kvshm_close(), or when the process exits.
 *
 * Return: 0, KVSHM_EINVAL (bad name), KVSHM_EDAEMON (no daemon serves
 * @name, or it does not answer), KVSHM_EVERSION (the segment was made by
 * an incompatible kvshmd), KVSHM_EPERM (no permission to map or connect),
 * KVSHM_ESYS.
 */
int kvshm_open(kvshm_t **c, const char *name,
	       const struct kvshm_open_opts *opts);

/*
 * kvshm_close - detach and free @c. NULL is ignored.
 * No other thread may be using @c. Views obtained from @c become invalid.
 * In a child that inherited @c across fork(), it frees only the child's
 * copies and leaves the parent's handle undisturbed.
 */
void kvshm_close(kvshm_t *c);

/*
 * kvshm_get - copy the value stored under @key into @buf.
 * @buf:  caller-owned destination of @cap bytes (NULL if @cap is 0).
 * @vlen: set to the value's length, also on KVSHM_ETOOSMALL; may be NULL
 *        only if the caller does not care.
 *
 * Reads the shared segment directly: no system call, no lock. (A thread's
 * first read on a handle asks the daemon for a reader slot; see
 * libkvshm(3).)
 *
 * Return: 0, KVSHM_ENOTFOUND, KVSHM_ETOOSMALL (nothing copied),
 * KVSHM_EINVAL (NULL or empty key), KVSHM_ETOOBIG (key over the daemon's
 * limit), KVSHM_EDAEMON (a thread's first read while no daemon serves;
 * or the daemon is gone and the handle has KVSHM_OPEN_NO_STALE: otherwise
 * reads return its last data until a new daemon serves, then reattach).
 * A thread's first read may also give KVSHM_EPROTO, or KVSHM_ESYS with
 * errno ENOSPC when every reader slot is taken.
 */
int kvshm_get(kvshm_t *c, const void *key, size_t klen,
	      void *buf, size_t cap, size_t *vlen);

/*
 * kvshm_get_alloc - like kvshm_get(), into a buffer from malloc().
 * @val: set to a malloc()ed copy of the value with a NUL byte appended
 *       (not counted in *@vlen); the caller frees it.
 *
 * Return: as kvshm_get(), plus KVSHM_ESYS if malloc() fails.
 */
int kvshm_get_alloc(kvshm_t *c, const void *key, size_t klen,
		    void **val, size_t *vlen);

/*
 * kvshm_exists - 0 if @key is present and unexpired, else KVSHM_ENOTFOUND.
 * Other errors as kvshm_get().
 */
int kvshm_exists(kvshm_t *c, const void *key, size_t klen);

/*
 * kvshm_ttl - remaining time to live of @key.
 * @ttl_ms: set to the milliseconds left (at least 1), or -1 if the key
 *          has no expiry.
 * Return: 0, KVSHM_ENOTFOUND, or as kvshm_get().
 */
int kvshm_ttl(kvshm_t *c, const void *key, size_t klen, int64_t *ttl_ms);

/* struct kvshm_meta flags: documented properties of the item read. */
enum {
	KVSHM_META_TTL = 1,	/* the key has an expiry (ttl_ms, expire_ms) */
};

/*
 * struct kvshm_meta - what kvshm_get_meta() and kvshm_view_meta() report
 * about an item besides its value.
 * @struct_size: in: sizeof(struct kvshm_meta) as the caller compiled it, so
 *               later releases can add fields at the end; 0 means the size
 *               of this first version (KVSHM_META_SIZE_VER0). The library
 *               writes no byte beyond it, and zeroes the bytes it has no
 *               field for.
 * @flags:     out: KVSHM_META_* bits; other bits are 0 in this release.
 * @vlen:      out: the value's length in bytes.
 * @ttl_ms:    out: milliseconds left (at least 1), -1 if no expiry.
 * @expire_ms: out: absolute expiry, milliseconds since the Unix epoch
 *             (CLOCK_REALTIME); 0 if no expiry.
 * @version:   out: the item's version: every write of a key gives it a new
 *             one, higher than any before; never 0. kvshm_cas() takes it.
 *
 * kvshm has no memcached-style opaque client flags in its items; @flags
 * holds properties the library derives from the item.
 */
struct kvshm_meta {
	unsigned int struct_size;
	unsigned int flags;
	size_t vlen;
	int64_t ttl_ms;
	int64_t expire_ms;
	uint64_t version;
};
#define KVSHM_META_SIZE_VER0	(sizeof(struct kvshm_meta))

/*
 * kvshm_get_meta - kvshm_get() that also reports the item's metadata, all
 * from the one item it read: @m's version is that of the value copied.
 * @buf:  caller-owned destination of @cap bytes; NULL (with @cap 0) to
 *        read only the metadata, which then returns 0 whatever the length.
 * @m:    filled on 0 and on KVSHM_ETOOSMALL (nothing copied then); its
 *        struct_size must be set first (0 or a size of at least
 *        KVSHM_META_SIZE_VER0). Must not be NULL.
 *
 * Reads the shared segment directly: no system call, no lock.
 *
 * Return: 0, KVSHM_ENOTFOUND, KVSHM_ETOOSMALL, KVSHM_EINVAL (NULL @m, a
 * bad struct_size, NULL @buf with @cap > 0, or as kvshm_get()),
 * KVSHM_ETOOBIG, or on a thread's first read as kvshm_get().
 */
int kvshm_get_meta(kvshm_t *c, const void *key, size_t klen,
		   void *buf, size_t cap, struct kvshm_meta *m);

/*
 * kvshm_read_lock - open a read section for zero-copy views.
 *
 * Between kvshm_read_lock() and kvshm_read_unlock() on the same thread,
 * kvshm_view() returns pointers straight into shared memory, valid until
 * kvshm_read_unlock(). A read section delays the daemon's reclamation of
 * replaced values, so keep it short and never block inside it. Sections
 * nest. No system call.
 *
 * Return: 0, KVSHM_EDAEMON (as for kvshm_get()), KVSHM_ESYS if no
 * reader slot could be had.
 */
int kvshm_read_lock(kvshm_t *c);

/*
 * kvshm_view - point @val at the value of @key, inside a read section.
 * @val: set to read-only shared memory (do not write or free it);
 *       valid until this thread's kvshm_read_unlock().
 * Return: 0, KVSHM_ENOTFOUND, KVSHM_EINVAL (no read section open on this
 * thread), KVSHM_ETOOBIG (key over the limit). Never a system call.
 */
int kvshm_view(kvshm_t *c, const void *key, size_t klen,
	       const void **val, size_t *vlen);

/*
 * kvshm_view_meta - kvshm_view() that also fills @m (see kvshm_get_meta())
 * from the same item, inside a read section.
 * @val: set as kvshm_view() does; may be NULL for the metadata alone.
 * Return: 0, KVSHM_ENOTFOUND, KVSHM_EINVAL (no read section open on this
 * thread, NULL @m, a bad struct_size), KVSHM_ETOOBIG. Never a system call.
 */
int kvshm_view_meta(kvshm_t *c, const void *key, size_t klen,
		    const void **val, struct kvshm_meta *m);

/*
 * kvshm_read_unlock - close the read section opened by kvshm_read_lock().
 *
 * A section open longer than the daemon's --reader-revoke-ms (a thread
 * stopped in a debugger, say) is revoked: the daemon stops waiting for
 * it and frees what was replaced meanwhile. Copying reads inside it
 * (kvshm_get() and the like) notice and read again; views taken before
 * the revocation may since show other bytes (never unmapped memory).
 *
 * Return: 0; KVSHM_EREVOKED when the section (the outermost, for nested
 * ones) was revoked: drop what was read through its views; KVSHM_EINVAL
 * when no section is open on this thread.
 */
int kvshm_read_unlock(kvshm_t *c);

/*
 * kvshm_set - store @val under @key through the daemon.
 * @ttl_ms: time to live in milliseconds; 0 = no expiry. Negative is
 *          KVSHM_EINVAL.
 * @flags:  0, KVSHM_NX (only if absent) or KVSHM_XX (only if present).
 *
 * Returns once the value is visible to every reader (this process's reads
 * see it at once).
 *
 * Return: 0, KVSHM_EEXISTS (NX and present), KVSHM_ENOTFOUND (XX and
 * absent), KVSHM_ETOOBIG, KVSHM_ENOMEM, KVSHM_EINVAL, KVSHM_EDAEMON (the
 * daemon is gone or did not answer within the timeout: the write may or
 * may not have been applied; the handle reattaches by itself once a new
 * daemon serves the name), KVSHM_EPROTO.
 */
int kvshm_set(kvshm_t *c, const void *key, size_t klen,
	      const void *val, size_t vlen, int64_t ttl_ms, unsigned flags);

/*
 * kvshm_del - delete @key.
 * Return: 0, KVSHM_ENOTFOUND, KVSHM_EINVAL, KVSHM_ETOOBIG, KVSHM_EDAEMON,
 * KVSHM_EPROTO.
 */
int kvshm_del(kvshm_t *c, const void *key, size_t klen);

/*
 * kvshm_expire - set @key to expire @ttl_ms milliseconds from now.
 * @ttl_ms <= 0 deletes the key, as Redis's EXPIRE does.
 * Return: 0, KVSHM_ENOMEM, or as kvshm_del().
 */
int kvshm_expire(kvshm_t *c, const void *key, size_t klen, int64_t ttl_ms);

/*
 * kvshm_persist - remove @key's expiry; 0 also if it had none.
 * Return: 0, KVSHM_ENOMEM, or as kvshm_del().
 */
int kvshm_persist(kvshm_t *c, const void *key, size_t klen);

/*
 * kvshm_incr - add @delta to the decimal integer stored under @key.
 * A missing key counts as 0; the result is stored as decimal text and its
 * expiry is kept.
 * @result: set to the new value (may be NULL).
 * Return: 0, KVSHM_ENOTINT, KVSHM_EOVERFLOW, KVSHM_ENOMEM, or as
 * kvshm_del() (never KVSHM_ENOTFOUND).
 */
int kvshm_incr(kvshm_t *c, const void *key, size_t klen, int64_t delta,
	       int64_t *result);

/*
 * kvshm_cas - compare-and-set: store @val under @key only if the key's
 * current version is @version, as read by kvshm_get_meta() (memcached's
 * CAS). @version 0 means "only if the key is absent", so a
 * read-modify-write loop can start from a missing key.
 * @ttl_ms:      as kvshm_set(): 0 = no expiry (an existing one is
 *               dropped); negative is KVSHM_EINVAL.
 * @new_version: set to the stored item's version (may be NULL), for a
 *               next kvshm_cas() without reading again.
 *
 * The check and the store are one step under the daemon's shard lock: of
 * several writers that read the same version, exactly one succeeds.
 *
 * Return: 0, KVSHM_ECHANGED (the key has another version, or is present
 * when @version is 0; nothing stored), KVSHM_ENOTFOUND (absent or expired
 * and @version is not 0), KVSHM_ETOOBIG, KVSHM_ENOMEM, KVSHM_EINVAL,
 * KVSHM_EDAEMON, KVSHM_EPROTO.
 */
int kvshm_cas(kvshm_t *c, const void *key, size_t klen,
	      const void *val, size_t vlen, int64_t ttl_ms, uint64_t version,
	      uint64_t *new_version);

/*
 * kvshm_cas_del - delete @key only if its current version is @version.
 * Return: 0, KVSHM_ECHANGED (another version; nothing deleted),
 * KVSHM_ENOTFOUND (absent or expired), or as kvshm_del().
 */
int kvshm_cas_del(kvshm_t *c, const void *key, size_t klen, uint64_t version);

/*
 * struct kvshm_kv - one pair for kvshm_mset(). The caller owns the
 * buffers; nothing is kept after the call returns.
 */
struct kvshm_kv {
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
	int64_t ttl_ms;		/* 0 = no expiry; negative is KVSHM_EINVAL */
};

/*
 * kvshm_mset - store @n pairs in one request, all or nothing.
 *
 * The daemon checks every pair and builds every item before it publishes
 * any, with all the shards involved locked together: another writer never
 * sees half a batch, and a batch refused for a limit or for memory stores
 * nothing. A reader may see some keys of a batch new and others still old
 * while it is being published (each key is always either its old or its
 * new value). A key given twice takes its last value. The whole request,
 * keys and values with 16 bytes of framing each, may be up to 16 MiB (or
 * one key and value of the daemon's limits, if larger).
 *
 * Return: 0, KVSHM_EINVAL (@n is 0, a NULL buffer, an empty key, a
 * negative TTL), KVSHM_ETOOBIG (a key or value over the limit, or the
 * request over its size), KVSHM_ENOMEM, KVSHM_EDAEMON, KVSHM_EPROTO.
 */
int kvshm_mset(kvshm_t *c, const struct kvshm_kv *kv, size_t n);

/*
 * kvshm_append - append @val to the value of @key (a missing key starts
 * empty), keeping its expiry, as Redis's APPEND.
 * @newlen: set to the value's new length (may be NULL).
 * Return: 0, KVSHM_ETOOBIG (the result would exceed the value limit; the
 * value is unchanged), KVSHM_ENOMEM, or as kvshm_del() (never
 * KVSHM_ENOTFOUND).
 */
int kvshm_append(kvshm_t *c, const void *key, size_t klen,
		 const void *val, size_t vlen, size_t *newlen);

/*
 * kvshm_getdel - delete @key and return the value it had, in one step.
 * @old: set to a malloc()ed copy of the old value, NUL-terminated (not
 *       counted in *@olen); the caller frees it.
 * Return: 0, KVSHM_ENOTFOUND (nothing deleted), or as kvshm_del().
 */
int kvshm_getdel(kvshm_t *c, const void *key, size_t klen,
		 void **old, size_t *olen);

/*
 * kvshm_getset - store @val under @key (with @ttl_ms, 0 = none) and return
 * the value it replaced, in one step.
 * @old: set to a malloc()ed, NUL-terminated copy of the old value, or to
 *       NULL if the key was absent; the caller frees it.
 * Return: 0, or as kvshm_set() (KVSHM_EINVAL for a negative TTL).
 */
int kvshm_getset(kvshm_t *c, const void *key, size_t klen,
		 const void *val, size_t vlen, int64_t ttl_ms,
		 void **old, size_t *olen);

/* struct kvshm_key - one key of kvshm_mdel(); the caller owns the bytes. */
struct kvshm_key {
	const void *key;
	size_t klen;
};

/*
 * kvshm_mdel - delete @n keys in one request. The daemon locks the shards
 * of all of them together, so another writer never sees some deleted and
 * others not; readers may, while it runs. Keys that are absent are
 * skipped; a key listed twice counts once.
 * @removed: set to how many live keys were deleted (may be NULL).
 * Return: 0, KVSHM_EINVAL (@n is 0, NULL @keys, an empty key), KVSHM_ETOOBIG
 * (a key over the limit, or the request over 16 MiB; nothing deleted),
 * KVSHM_EDAEMON, KVSHM_EPROTO.
 */
int kvshm_mdel(kvshm_t *c, const struct kvshm_key *keys, size_t n,
	       uint64_t *removed);

/* kvshm_batch() operations. */
enum {
	KVSHM_BATCH_PUT = 1,	/* store val under key, with ttl_ms */
	KVSHM_BATCH_DEL = 2,	/* delete key (absent is fine, unless a
				 * condition says otherwise) */
};

/*
 * struct kvshm_batch_op - one operation of kvshm_batch(); zero-initialise,
 * then set what the operation uses. The caller owns the buffers.
 * @op:      KVSHM_BATCH_PUT or KVSHM_BATCH_DEL.
 * @flags:   a condition, or 0: KVSHM_NX (PUT only: the key must be
 *           absent), KVSHM_XX (it must be present), KVSHM_IFVERSION (it
 *           must have @version; 0 = absent). At most one.
 * @val, @vlen: PUT: the value (@val may be NULL if @vlen is 0). DEL: 0.
 * @ttl_ms:  PUT: 0 = no expiry; negative is KVSHM_EINVAL. DEL: 0.
 * @version: with KVSHM_IFVERSION, as kvshm_cas() takes it.
 */
struct kvshm_batch_op {
	unsigned int op;
	unsigned int flags;
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
	int64_t ttl_ms;
	uint64_t version;
};

/*
 * kvshm_batch - apply @n operations, puts and deletes, all or nothing, in
 * one request.
 * @failed: set to the index of the operation that made the batch fail (a
 *          bad operation, a key or value over the limits, an unmet
 *          condition), or to @n if the failure concerns no one operation
 *          (memory, the request's size, the daemon) and on success. May be
 *          NULL.
 *
 * The operations apply in order, as if one after the other: a condition
 * sees what the operations before it in the batch did to its key, and a
 * key named twice ends as its last operation leaves it. (A KVSHM_IFVERSION
 * condition on a key an earlier operation stores always fails: the new
 * version is not known before the batch is applied.)
 *
 * The daemon locks the shards of every key together, checks every
 * condition and builds every new value before it publishes anything: a
 * batch that fails changes nothing, and no other writer ever sees part
 * of a batch. Readers do not lock: while the batch is being published a
 * reader may see some of its keys changed and others not yet (each key on
 * its own is always either its old or its new state, never torn); once
 * kvshm_batch() returns, every reader sees all of it. The whole request,
 * keys and values with 32 bytes of framing per operation, may be up to
 * 16 MiB (or one key and value of the daemon's limits, if larger).
 *
 * Return: 0, KVSHM_EEXISTS (KVSHM_NX and present), KVSHM_ENOTFOUND
 * (KVSHM_XX, or KVSHM_IFVERSION with a version, and absent),
 * KVSHM_ECHANGED (KVSHM_IFVERSION and another version), KVSHM_EINVAL (@n
 * is 0, NULL @ops, an empty key, an unknown op or flag, NX on a delete,
 * more than one condition, a value or TTL on a delete, a negative TTL),
 * KVSHM_ETOOBIG (a key or value over the limit, or the request over its
 * size), KVSHM_ENOMEM (memory, or more keys than --max-entries, and
 * eviction cannot make room; the keys a batch adds count before the keys
 * it deletes), KVSHM_EDAEMON, KVSHM_EPROTO.
 */
int kvshm_batch(kvshm_t *c, const struct kvshm_batch_op *ops, size_t n,
		size_t *failed);

/*
 * kvshm_flush - delete every key. Shard by shard: a write that lands on a
 * shard already flushed while the flush runs survives it.
 * @removed: set to the number of keys deleted (may be NULL).
 * Return: 0, KVSHM_EDAEMON, KVSHM_EPROTO, KVSHM_EINVAL.
 */
int kvshm_flush(kvshm_t *c, uint64_t *removed);

/*
 * kvshm_strlen - the length of @key's value, read from shared memory (no
 * system call). Return: 0, KVSHM_ENOTFOUND, or as kvshm_get().
 */
int kvshm_strlen(kvshm_t *c, const void *key, size_t klen, size_t *len);

/*
 * struct kvshm_getv - one key of kvshm_mget(): the caller fills key, klen,
 * buf and cap; kvshm_mget() sets vlen and rc.
 */
struct kvshm_getv {
	const void *key;
	size_t klen;
	void *buf;		/* caller-owned, @cap bytes (NULL if 0) */
	size_t cap;
	size_t vlen;		/* out: the value's length (also on ETOOSMALL) */
	int rc;			/* out: 0, KVSHM_ENOTFOUND, KVSHM_ETOOSMALL,
				 * KVSHM_EINVAL or KVSHM_ETOOBIG for this key */
};

/*
 * kvshm_mget - read @n keys in one read section, from shared memory (no
 * system call). Each key's outcome is in its own rc; keys are read one
 * after another, so a batch being published by a writer meanwhile may be
 * seen in part (see kvshm_mset()).
 * Return: 0 when every key was looked up (whatever each found), or a
 * handle-level error as kvshm_read_lock() (then no rc is set).
 */
int kvshm_mget(kvshm_t *c, struct kvshm_getv *v, size_t n);

/*
 * struct kvshm_limits - the daemon's limits, as kvshm_limits() reads them.
 */
struct kvshm_limits {
	size_t max_key;		/* longest key, bytes */
	size_t max_value;	/* longest value, bytes */
	uint64_t max_entries;	/* most keys stored at once; 0 = no limit
				 * but memory */
	uint64_t memory;	/* heap bytes (--memory) */
};

/*
 * kvshm_limits - the limits of the daemon serving @c, from the mapped
 * segment (no system call). Writes beyond them fail with KVSHM_ETOOBIG
 * (key, value) or KVSHM_ENOMEM (entries, memory) and change nothing.
 * Return: 0 or KVSHM_EINVAL.
 */
int kvshm_limits(kvshm_t *c, struct kvshm_limits *l);

/* kvshm_ping - round trip to the daemon. Return: 0, KVSHM_EDAEMON,
 * KVSHM_EPROTO, KVSHM_EINVAL (NULL handle). */
int kvshm_ping(kvshm_t *c);

/*
 * kvshm_snapshot - have the daemon write a snapshot now, and wait for it.
 * @lsn: set to the WAL position the snapshot is consistent with (may be
 *       NULL).
 * A snapshot of a large cache can take longer than the handle's timeout
 * (struct kvshm_open_opts): open the handle with a longer one.
 * Return: 0, KVSHM_ESYS (errno ENOTSUP: the daemon runs with
 * --persistence none; another errno: writing the file failed),
 * KVSHM_EDAEMON, KVSHM_EPROTO, KVSHM_EINVAL.
 */
int kvshm_snapshot(kvshm_t *c, uint64_t *lsn);

/*
 * kvshm_keys - call @cb for every live key matching the glob @pattern.
 * @pattern: fnmatch(3)-style glob (*, ?, [...], \ escapes) over the key
 *           bytes; NULL or "*" matches everything.
 * @cb:      called outside any read section with a copy of each key; a
 *           non-zero return stops the walk and is returned by kvshm_keys().
 *
 * Lock-free: writes go on during the walk. A key present for the whole
 * walk is reported exactly once; keys written during it may or may not be.
 *
 * Return: 0, @cb's non-zero value, KVSHM_EINVAL, KVSHM_ESYS, or, on a
 * thread's first read, KVSHM_EDAEMON or KVSHM_EPROTO.
 */
int kvshm_keys(kvshm_t *c, const char *pattern,
	       int (*cb)(const void *key, size_t klen, void *arg), void *arg);

/*
 * struct kvshm_scan_opts - what kvshm_scan() returns; zero-initialise.
 * Filters combine (a key must pass all of them).
 */
struct kvshm_scan_opts {
	const char *pattern;	/* glob as kvshm_keys(), NULL = any */
	const void *prefix;	/* keys starting with these bytes */
	size_t prefix_len;	/* 0 = any */
	const void *min;	/* keys >= min (bytewise), NULL = no bound */
	size_t min_len;
	const void *max;	/* keys < max (bytewise), NULL = no bound */
	size_t max_len;
	size_t limit;		/* keys per call at most; 0 = no limit */
};

/*
 * kvshm_scan - walk the keys in pieces, lock-free, while writes go on.
 * @cursor: 0 to start; set after each call to where the next call goes
 *          on, and to 0 when the walk is complete. A cursor is only
 *          meaningful for the cache it came from: one naming a shard this
 *          cache lacks is KVSHM_EINVAL, others are not detected (the walk
 *          may then skip keys).
 * @opts:   filters and the per-call limit; NULL for all keys, no limit.
 * @cb:     called outside any read section with a copy of each key; a
 *          non-zero return stops the call and is returned (the cursor is
 *          then not updated).
 *
 * Every key present for the whole walk is returned at least once; if a
 * part of the table grew between two calls, its keys may be returned
 * again. Keys are not ordered (sort them yourself). Each call holds one
 * read section per shard it reads, never across @cb.
 *
 * Return: 0, @cb's non-zero value, KVSHM_EINVAL (NULL @cursor or @cb, a
 * cursor naming a shard this cache lacks), or as kvshm_keys().
 */
int kvshm_scan(kvshm_t *c, uint64_t *cursor, const struct kvshm_scan_opts *opts,
	       int (*cb)(const void *key, size_t klen, void *arg), void *arg);

/*
 * kvshm_stats - the daemon's counters as text.
 * @text: set to a malloc()ed, NUL-terminated list of "name value" lines
 *        (names are [a-z0-9_], values decimal integers or words); the
 *        caller frees it. Reader hits and misses are summed over all
 *        attached processes.
 * Return: 0, KVSHM_EDAEMON, KVSHM_EPROTO, KVSHM_EINVAL, KVSHM_ESYS.
 */
int kvshm_stats(kvshm_t *c, char **text);

/*
 * kvshm_config_get - the daemon's effective settings as text.
 * @text: set to a malloc()ed, NUL-terminated list of "key value" lines,
 *        keys named as kvshmd's long options (eviction, memory, ...); the
 *        caller frees it.
 * Return: as kvshm_stats().
 */
int kvshm_config_get(kvshm_t *c, char **text);

/*
 * kvshm_config_set - change a setting of the running daemon.
 * @key:   "eviction", "eviction-samples" or "eviction-watermark" (the
 *         settings that can change at run time; see kvshmd(8)).
 * @value: as on kvshmd's command line, e.g. "sieve", "10".
 *
 * Only a process of the daemon's user, or root, may change settings.
 * The change is not written back to any configuration file.
 *
 * Return: 0, KVSHM_EINVAL (NULL argument, a key that cannot change, or a
 * bad value: the daemon logs which), KVSHM_EPERM, KVSHM_ENOMEM (the
 * daemon could not build the new policy's state; the old one stays), or
 * as kvshm_stats().
 */
int kvshm_config_set(kvshm_t *c, const char *key, const char *value);

/* struct kvshm_client flags. */
enum {
	KVSHM_CLIENT_ORPHAN = 1,	/* the connection closed without
					 * kvshm_close() while the process
					 * lives on: its reader slots are kept
					 * until the process exits */
	KVSHM_CLIENT_SELF = 2,		/* the connection of the handle that
					 * called kvshm_clients() */
	KVSHM_CLIENT_STALLED = 4,	/* a thread of it has been inside one
					 * read section for over a second
					 * while the daemon waits for it */
	KVSHM_CLIENT_REVOKED = 8,	/* a thread of it is inside a read
					 * section the daemon revoked
					 * (--reader-revoke-ms) */
};

/*
 * struct kvshm_client - one client of the daemon, as kvshm_clients()
 * reports it: an open handle (one connection each), or an orphan.
 * @struct_size:  bytes of this structure the library filled: its size as
 *                the library was compiled. A program built against a later
 *                header reads a field added since only if struct_size
 *                covers it (offsetof() + sizeof()).
 * @flags:        KVSHM_CLIENT_* bits; other bits are 0 in this release.
 * @pid, @uid, @gid: the process's credentials when it connected.
 * @slots:        reader slots the handle holds.
 * @requests:     requests the daemon received from it, of any kind.
 * @bytes_in:     bytes the daemon received from it;
 * @bytes_out:    bytes the daemon sent to it.
 * @connected_ms: milliseconds since it connected.
 */
struct kvshm_client {
	unsigned int struct_size;
	unsigned int flags;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	unsigned int slots;
	uint64_t requests;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t connected_ms;
};

/*
 * kvshm_clients - list the clients attached to the daemon.
 * @cb:  called once per client, in no particular order, after the daemon
 *       has answered and with no lock of @c held (it may call kvshm
 *       functions on @c); @cl is the library's and valid during the call
 *       only. A non-zero return stops the walk and is returned.
 *
 * The list is the daemon's at the moment it answered: one entry per
 * connection, this handle's own included (KVSHM_CLIENT_SELF), then one
 * per orphan.
 *
 * Return: 0, @cb's non-zero value, KVSHM_EINVAL (NULL @c or @cb, or a
 * handle inherited across fork()), KVSHM_EDAEMON, KVSHM_EPROTO (also
 * from a daemon older than this call), KVSHM_ESYS (errno ENOMEM).
 */
int kvshm_clients(kvshm_t *c,
		  int (*cb)(const struct kvshm_client *cl, void *arg),
		  void *arg);

#ifdef __cplusplus
}
#endif

#endif /* KVSHM_H */
