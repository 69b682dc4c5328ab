/* SPDX-License-Identifier: MIT */
/*
 * shm/frame.h - the write channel's frame codec, shared by libkvshm and
 * kvshmd. Transport-neutral: it encodes into and decodes from memory, so a
 * later shared-memory submission ring can carry the same frames as the
 * Unix socket does today.
 *
 * A frame is a 16-byte header, then @len payload bytes of fields:
 *	u32/u64/i64   little-endian (host order: both ends share the host)
 *	blob          u32 length, then that many bytes
 * Requests carry op = KVS_OP_*, replies op | KVS_OP_REPLY with the same id
 * and a status (0 or -errno; the library maps it to KVSHM_E*).
 *
 * Every decoder checks every length against what is left; a frame whose
 * fields do not consume its payload exactly is malformed (-EPROTO).
 */
#ifndef KVS_FRAME_H
#define KVS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define KVS_PROTO_VERSION	1

enum kvs_op {
	KVS_OP_HELLO	= 1,	/* u32 proto, u32 pid -> u64 generation */
	KVS_OP_PING	= 2,	/* -> (nothing) */
	KVS_OP_SLOT	= 3,	/* -> u32 reader slot index */
	KVS_OP_STATS	= 4,	/* -> blob text */
	KVS_OP_BYE	= 5,	/* no reply: the handle is closing, its
				 * reader slots may be released now */
	KVS_OP_SET	= 10,	/* blob key, blob val, i64 ttl_ms; flags */
	KVS_OP_DEL	= 11,	/* blob key */
	KVS_OP_EXPIRE	= 12,	/* blob key, i64 ttl_ms */
	KVS_OP_PERSIST	= 13,	/* blob key */
	KVS_OP_INCR	= 14,	/* blob key, i64 delta -> i64 result */
	KVS_OP_MSET	= 15,	/* u32 n, n x (blob key, blob val, i64 ttl_ms) */
	KVS_OP_APPEND	= 16,	/* blob key, blob val -> u64 new length */
	KVS_OP_GETDEL	= 17,	/* blob key -> u32 1, blob old value */
	KVS_OP_GETSET	= 18,	/* blob key, blob val, i64 ttl_ms -> u32 had,
				 * blob old value (empty if !had) */
	KVS_OP_FLUSH	= 19,	/* -> u64 keys removed */
	KVS_OP_MDEL	= 20,	/* u32 n, n x blob key -> u64 keys removed */
	KVS_OP_SNAPSHOT	= 40,	/* -> u64 LSN of the snapshot written */
	KVS_OP_CAS	= 21,	/* blob key, blob val, i64 ttl_ms, u64 version
				 * -> u64 new version; -ESTALE if the version
				 * differs (0: the key must be absent) */
	KVS_OP_CASDEL	= 22,	/* blob key, u64 version; -ESTALE as CAS */
	KVS_OP_BATCH	= 23,	/* u32 n, n x (u32 op, u32 cond, blob key,
				 * blob val, i64 ttl_ms, u64 version); a
				 * failure's reply carries u32 the index of
				 * the op that failed (UINT32_MAX: none) */
	KVS_OP_CONFIG_GET = 50,	/* -> blob text ("key value" lines) */
	KVS_OP_CONFIG_SET = 51,	/* blob key, blob value; only the daemon's
				 * user or root (else -EPERM) */
	KVS_OP_CLIENTS	= 52,	/* -> u32 n, n x blob client record (below):
				 * every connection, then every orphan */
	KVS_OP_REPLY	= 0x8000,
};

/* SET flags (frame header flags field); also BATCH op conditions. */
#define KVS_SET_NX	0x1
#define KVS_SET_XX	0x2
#define KVS_IF_VERSION	0x4	/* BATCH only: the key has this version */

/*
 * A CLIENTS record: one connection, or one orphan (a connection closed
 * without BYE whose process still runs; its reader slots are kept).
 *	u32 pid, u32 uid, u32 gid (SO_PEERCRED at accept), u32 flags
 *	(KVS_CLIENT_*), u32 reader slots held, u64 requests received,
 *	u64 bytes received, u64 bytes sent, u64 ms since it connected
 * Records travel as blobs so that later releases can append fields: a
 * decoder reads the fields it knows and ignores the bytes after them.
 */
#define KVS_CLIENT_ORPHAN	0x1	/* closed without BYE, slots kept */
#define KVS_CLIENT_SELF		0x2	/* the connection that asked */
#define KVS_CLIENT_STALLED	0x4	/* a slot of it is stalled */
#define KVS_CLIENT_REVOKED	0x8	/* a slot of it is in a revoked section */
#define KVS_CLIENT_REC_LEN	52	/* bytes of the fields above */

/* BATCH op kinds. */
#define KVS_BATCH_PUT	1
#define KVS_BATCH_DEL	2
#define KVS_BATCH_OP_MIN	32	/* bytes of an op with empty blobs */

/*
 * Largest payload either side accepts: one key and value of the daemon's
 * limits, or a batch of up to KVS_BATCH_MAX bytes, whichever is larger.
 */
#define KVS_BATCH_MAX	(16U << 20)

static inline size_t kvs_max_payload(uint32_t max_key, uint32_t max_value)
{
	size_t one = (size_t)max_key + max_value + 64;

	return one > KVS_BATCH_MAX ? one : KVS_BATCH_MAX;
}

struct kvs_frame_hdr {
	uint32_t len;		/* payload bytes after this header */
	uint32_t id;		/* request id, echoed in the reply */
	uint16_t op;
	uint16_t flags;
	int32_t status;		/* replies: 0 or -errno; requests: 0 */
};
_Static_assert(sizeof(struct kvs_frame_hdr) == 16, "frame header is 16 bytes");

/* A growable output buffer. */
struct kvs_wbuf {
	char *p;
	size_t len;
	size_t cap;
	size_t frame;		/* offset of the frame being built */
	int err;		/* sticky -ENOMEM */
};

void kvs_wbuf_free(struct kvs_wbuf *w);
void kvs_frame_begin(struct kvs_wbuf *w, uint16_t op, uint16_t flags,
		     uint32_t id, int32_t status);
void kvs_put_u32(struct kvs_wbuf *w, uint32_t v);
void kvs_put_u64(struct kvs_wbuf *w, uint64_t v);
void kvs_put_i64(struct kvs_wbuf *w, int64_t v);
void kvs_put_blob(struct kvs_wbuf *w, const void *p, size_t len);
int kvs_frame_end(struct kvs_wbuf *w);	/* 0, -ENOMEM or -E2BIG */

/*
 * kvs_frame_peek - is a whole frame at the start of @buf?
 * Return: the frame's total size (header + payload) if complete, 0 if more
 * bytes are needed, -EMSGSIZE if its payload exceeds @max_payload.
 */
long kvs_frame_peek(const void *buf, size_t avail, size_t max_payload,
		    struct kvs_frame_hdr *h);

/* A cursor over one frame's payload. err is sticky. */
struct kvs_rd {
	const char *p;
	size_t left;
	int err;
};

void kvs_rd_init(struct kvs_rd *r, const void *payload, size_t len);
uint32_t kvs_get_u32(struct kvs_rd *r);
uint64_t kvs_get_u64(struct kvs_rd *r);
int64_t kvs_get_i64(struct kvs_rd *r);
const void *kvs_get_blob(struct kvs_rd *r, size_t *len);
int kvs_rd_done(const struct kvs_rd *r);	/* 0 or -EPROTO */

#endif /* KVS_FRAME_H */
