// SPDX-License-Identifier: MIT
/*
 * libclient/write.c - writes, sent to the daemon over the write channel.
 * Each returns once the daemon has made the change visible in shared
 * memory (or refused it), so the caller reads its own writes.
 *
 * Arguments are checked here too, so bad input fails fast without a round
 * trip; the daemon checks everything again, since it trusts no client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Decode a reply that holds one 64-bit number into *@out (may be NULL). */
static int reply_u64(struct kvc_reply *rep, uint64_t *out)
{
	uint64_t v = kvs_get_u64(&rep->rd);

	if (kvs_rd_done(&rep->rd) < 0)
		return KVSHM_EPROTO;
	if (out)
		*out = v;
	return 0;
}

/*
 * Frame one single-key request (key, then the value if @has_val, then *@i64
 * if non-NULL, then *@u64 if non-NULL), run it, and, if @out is non-NULL,
 * decode a reply holding one 64-bit number into it.
 */
static int key_op(struct kvshm *c, uint16_t op, uint16_t flags,
		  const void *key, size_t klen, const void *val, size_t vlen,
		  bool has_val, const int64_t *i64, const uint64_t *u64,
		  uint64_t *out)
{
	struct kvc_reply rep;
	int rc;

	if (c && kvc_forked(c))
		return KVSHM_EINVAL;	/* before io_lock: it may be held */
	if ((rc = kvc_key_check(c, key, klen)))
		return rc;
	pthread_mutex_lock(&c->io_lock);
	kvs_frame_begin(&c->req, op, flags, kvc_next_id(c), 0);
	kvs_put_blob(&c->req, key, klen);
	if (has_val)
		kvs_put_blob(&c->req, val, vlen);
	if (i64)
		kvs_put_i64(&c->req, *i64);
	if (u64)
		kvs_put_u64(&c->req, *u64);
	rc = kvc_call(c, op, &rep);
	if (rc == 0 && out)
		rc = reply_u64(&rep, out);
	pthread_mutex_unlock(&c->io_lock);
	return rc;
}

int kvshm_set(kvshm_t *c, const void *key, size_t klen,
	      const void *val, size_t vlen, int64_t ttl_ms, unsigned flags)
{
	if (!c || kvc_forked(c) || (!val && vlen) || ttl_ms < 0 ||
	    (flags & ~(unsigned)(KVSHM_NX | KVSHM_XX)) ||
	    flags == (KVSHM_NX | KVSHM_XX))
		return KVSHM_EINVAL;
	if (vlen > kvc_hdr(c)->max_value) {
		int rc = kvc_key_check(c, key, klen);

		return rc ? rc : KVSHM_ETOOBIG;
	}
	return key_op(c, KVS_OP_SET,
		      (uint16_t)(((flags & KVSHM_NX) ? KVS_SET_NX : 0) |
				 ((flags & KVSHM_XX) ? KVS_SET_XX : 0)),
		      key, klen, val, vlen, true, &ttl_ms, NULL, NULL);
}

int kvshm_del(kvshm_t *c, const void *key, size_t klen)
{
	return key_op(c, KVS_OP_DEL, 0, key, klen, NULL, 0, false, NULL, NULL,
		      NULL);
}

int kvshm_expire(kvshm_t *c, const void *key, size_t klen, int64_t ttl_ms)
{
	return key_op(c, KVS_OP_EXPIRE, 0, key, klen, NULL, 0, false, &ttl_ms,
		      NULL, NULL);
}

int kvshm_persist(kvshm_t *c, const void *key, size_t klen)
{
	return key_op(c, KVS_OP_PERSIST, 0, key, klen, NULL, 0, false, NULL,
		      NULL, NULL);
}

int kvshm_incr(kvshm_t *c, const void *key, size_t klen, int64_t delta,
	       int64_t *result)
{
	uint64_t r;
	int rc;

	rc = key_op(c, KVS_OP_INCR, 0, key, klen, NULL, 0, false, &delta, NULL,
		    &r);
	if (rc == 0 && result)
		*result = (int64_t)r;
	return rc;
}

int kvshm_cas(kvshm_t *c, const void *key, size_t klen,
	      const void *val, size_t vlen, int64_t ttl_ms, uint64_t version,
	      uint64_t *new_version)
{
	if (!c || kvc_forked(c) || (!val && vlen) || ttl_ms < 0)
		return KVSHM_EINVAL;
	if (vlen > kvc_hdr(c)->max_value) {
		int rc = kvc_key_check(c, key, klen);

		return rc ? rc : KVSHM_ETOOBIG;
	}
	return key_op(c, KVS_OP_CAS, 0, key, klen, val, vlen, true, &ttl_ms,
		      &version, new_version);
}

int kvshm_cas_del(kvshm_t *c, const void *key, size_t klen, uint64_t version)
{
	return key_op(c, KVS_OP_CASDEL, 0, key, klen, NULL, 0, false, NULL,
		      &version, NULL);
}

int kvshm_mset(kvshm_t *c, const struct kvshm_kv *kv, size_t n)
{
	size_t i, bytes = 4;
	struct kvc_reply rep;
	int rc;

	if (!c || !kv || n == 0 || n > UINT32_MAX || kvc_forked(c))
		return KVSHM_EINVAL;
	for (i = 0; i < n; i++) {
		if ((rc = kvc_key_check(c, kv[i].key, kv[i].klen)))
			return rc;
		if ((!kv[i].val && kv[i].vlen) || kv[i].ttl_ms < 0)
			return KVSHM_EINVAL;
		if (kv[i].vlen > kvc_hdr(c)->max_value)
			return KVSHM_ETOOBIG;
		bytes += 16 + kv[i].klen + kv[i].vlen;
	}
	if (bytes > kvs_max_payload(kvc_hdr(c)->max_key, kvc_hdr(c)->max_value))
		return KVSHM_ETOOBIG;
	pthread_mutex_lock(&c->io_lock);
	kvs_frame_begin(&c->req, KVS_OP_MSET, 0, kvc_next_id(c), 0);
	kvs_put_u32(&c->req, (uint32_t)n);
	for (i = 0; i < n; i++) {
		kvs_put_blob(&c->req, kv[i].key, kv[i].klen);
		kvs_put_blob(&c->req, kv[i].val, kv[i].vlen);
		kvs_put_i64(&c->req, kv[i].ttl_ms);
	}
	rc = kvc_call(c, KVS_OP_MSET, &rep);
	pthread_mutex_unlock(&c->io_lock);
	return rc;
}

/* A request whose reply is (u32 had, blob old): decode into malloc()ed *old. */
static int old_value_reply(struct kvc_reply *rep, void **old, size_t *olen)
{
	const void *p;
	uint32_t had = kvs_get_u32(&rep->rd);
	size_t n;
	char *copy;

	p = kvs_get_blob(&rep->rd, &n);
	if (kvs_rd_done(&rep->rd) < 0)
		return KVSHM_EPROTO;
	if (!had) {
		*old = NULL;
		if (olen)
			*olen = 0;
		return 0;
	}
	copy = malloc(n + 1);
	if (!copy) {
		errno = ENOMEM;
		return KVSHM_ESYS;
	}
	memcpy(copy, p, n);
	copy[n] = '\0';
	*old = copy;
	if (olen)
		*olen = n;
	return 0;
}

/*
 * Frame and run one request on @key (then the value if @val_too, then
 * *@i64 if non-NULL); on success decode the old value into *@old.
 */
static int key_old_op(struct kvshm *c, uint16_t op, const void *key,
		      size_t klen, const void *val, size_t vlen, bool val_too,
		      const int64_t *i64, void **old, size_t *olen)
{
	struct kvc_reply rep;
	int rc;

	if (c && kvc_forked(c))
		return KVSHM_EINVAL;
	if ((rc = kvc_key_check(c, key, klen)))
		return rc;
	if (!old || (!val && vlen))
		return KVSHM_EINVAL;
	if (vlen > kvc_hdr(c)->max_value)
		return KVSHM_ETOOBIG;
	pthread_mutex_lock(&c->io_lock);
	kvs_frame_begin(&c->req, op, 0, kvc_next_id(c), 0);
	kvs_put_blob(&c->req, key, klen);
	if (val_too)
		kvs_put_blob(&c->req, val, vlen);
	if (i64)
		kvs_put_i64(&c->req, *i64);
	rc = kvc_call(c, op, &rep);
	if (rc == 0)
		rc = old_value_reply(&rep, old, olen);
	pthread_mutex_unlock(&c->io_lock);
	return rc;
}

int kvshm_getdel(kvshm_t *c, const void *key, size_t klen,
		 void **old, size_t *olen)
{
	return key_old_op(c, KVS_OP_GETDEL, key, klen, NULL, 0, false, NULL,
			  old, olen);
}

int kvshm_getset(kvshm_t *c, const void *key, size_t klen,
		 const void *val, size_t vlen, int64_t ttl_ms,
		 void **old, size_t *olen)
{
	if (ttl_ms < 0)
		return KVSHM_EINVAL;
	return key_old_op(c, KVS_OP_GETSET, key, klen, val, vlen, true,
			  &ttl_ms, old, olen);
}

int kvshm_append(kvshm_t *c, const void *key, size_t klen,
		 const void *val, size_t vlen, size_t *newlen)
{
	uint64_t n;
	int rc;

	if (c && kvc_forked(c))
		return KVSHM_EINVAL;
	if ((rc = kvc_key_check(c, key, klen)))
		return rc;
	if (!val && vlen)
		return KVSHM_EINVAL;
	if (vlen > kvc_hdr(c)->max_value)
		return KVSHM_ETOOBIG;
	rc = key_op(c, KVS_OP_APPEND, 0, key, klen, val, vlen, true, NULL, NULL,
		    &n);
	if (rc == 0 && newlen)
		*newlen = (size_t)n;
	return rc;
}

/* A request with no arguments whose reply is one 64-bit number. */
static int plain_op(struct kvshm *c, uint16_t op, uint64_t *out)
{
	struct kvc_reply rep;
	int rc;

	if (!c || kvc_forked(c))
		return KVSHM_EINVAL;
	pthread_mutex_lock(&c->io_lock);
	kvs_frame_begin(&c->req, op, 0, kvc_next_id(c), 0);
	rc = kvc_call(c, op, &rep);
	if (rc == 0)
		rc = reply_u64(&rep, out);
	pthread_mutex_unlock(&c->io_lock);
	return rc;
}

int kvshm_flush(kvshm_t *c, uint64_t *removed)
{
	return plain_op(c, KVS_OP_FLUSH, removed);
}

int kvshm_snapshot(kvshm_t *c, uint64_t *lsn)
{
	return plain_op(c, KVS_OP_SNAPSHOT, lsn);
}

int kvshm_mdel(kvshm_t *c, const struct kvshm_key *keys, size_t n,
	       uint64_t *removed)
{
	size_t i, bytes = 4;
	struct kvc_reply rep;
	int rc;

	if (!c || !keys || n == 0 || n > UINT32_MAX || kvc_forked(c))
		return KVSHM_EINVAL;
	for (i = 0; i < n; i++) {
		if ((rc = kvc_key_check(c, keys[i].key, keys[i].klen)))
			return rc;
		bytes += 4 + keys[i].klen;
	}
	if (bytes > kvs_max_payload(kvc_hdr(c)->max_key, kvc_hdr(c)->max_value))
		return KVSHM_ETOOBIG;
	pthread_mutex_lock(&c->io_lock);
	kvs_frame_begin(&c->req, KVS_OP_MDEL, 0, kvc_next_id(c), 0);
	kvs_put_u32(&c->req, (uint32_t)n);
	for (i = 0; i < n; i++)
		kvs_put_blob(&c->req, keys[i].key, keys[i].klen);
	rc = kvc_call(c, KVS_OP_MDEL, &rep);
	if (rc == 0)
		rc = reply_u64(&rep, removed);
	pthread_mutex_unlock(&c->io_lock);
	return rc;
}

/* batch_op_check - the checks the daemon makes again; 0 or KVSHM_E*. */
static int batch_op_check(const struct kvshm *c, const struct kvshm_batch_op *o)
{
	unsigned int f = o->flags;
	int rc;

	if ((rc = kvc_key_check(c, o->key, o->klen)))
		return rc;
	if ((f & ~(unsigned int)(KVSHM_NX | KVSHM_XX | KVSHM_IFVERSION)) ||
	    (f & (f - 1)))
		return KVSHM_EINVAL;
	switch (o->op) {
	case KVSHM_BATCH_PUT:
		if ((!o->val && o->vlen) || o->ttl_ms < 0)
			return KVSHM_EINVAL;
		return o->vlen > kvc_hdr(c)->max_value ? KVSHM_ETOOBIG : 0;
	case KVSHM_BATCH_DEL:
		return (f & KVSHM_NX) || o->vlen || o->ttl_ms ? KVSHM_EINVAL : 0;
	default:
		return KVSHM_EINVAL;
	}
}

/* The failed op's index from a BATCH failure reply; @n if none. */
static size_t batch_failed_index(struct kvc_reply *rep, size_t n)
{
	uint32_t i = kvs_get_u32(&rep->rd);

	if (kvs_rd_done(&rep->rd) < 0 || i >= n)
		return n;
	return i;
}

int kvshm_batch(kvshm_t *c, const struct kvshm_batch_op *ops, size_t n,
		size_t *failed)
{
	size_t i, bad = n, bytes = 4;
	struct kvc_reply rep;
	int rc;

	/* Zeroed: if no reply arrives, its empty payload names no op. */
	memset(&rep, 0, sizeof(rep));

	if (failed)
		*failed = n;
	if (!c || !ops || n == 0 || n > UINT32_MAX - 1 || kvc_forked(c))
		return KVSHM_EINVAL;
	for (i = 0; i < n; i++) {
		if ((rc = batch_op_check(c, &ops[i]))) {
			if (failed)
				*failed = i;
			return rc;
		}
		bytes += KVS_BATCH_OP_MIN + ops[i].klen + ops[i].vlen;
	}
	if (bytes > kvs_max_payload(kvc_hdr(c)->max_key, kvc_hdr(c)->max_value))
		return KVSHM_ETOOBIG;
	pthread_mutex_lock(&c->io_lock);
	kvs_frame_begin(&c->req, KVS_OP_BATCH, 0, kvc_next_id(c), 0);
	kvs_put_u32(&c->req, (uint32_t)n);
	for (i = 0; i < n; i++) {
		kvs_put_u32(&c->req, ops[i].op);
		kvs_put_u32(&c->req, ops[i].flags);
		kvs_put_blob(&c->req, ops[i].key, ops[i].klen);
		kvs_put_blob(&c->req, ops[i].val, ops[i].vlen);
		kvs_put_i64(&c->req, ops[i].ttl_ms);
		kvs_put_u64(&c->req, ops[i].version);
	}
	rc = kvc_call(c, KVS_OP_BATCH, &rep);
	if (rc != 0)
		bad = batch_failed_index(&rep, n);
	pthread_mutex_unlock(&c->io_lock);
	if (failed)
		*failed = bad;
	return rc;
}
