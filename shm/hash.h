/* SPDX-License-Identifier: MIT */
/*
 * shm/hash.h - key hashing (XXH3-64, seeded per segment) and the split of a
 * hash into shard, bucket and tag. Both sides must agree bit for bit.
 */
#ifndef KVS_HASH_H
#define KVS_HASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * xxhash.h is the whole library: with XXH_INLINE_ALL the hash of a short
 * key compiles into the caller (the read path) instead of a call through
 * the PLT into libxxhash. The symbols it defines are static.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* Keys over 16 bytes: the whole of XXH3, out of line (it is large). */
static __attribute__((noinline, unused)) uint64_t
kvs_hash_long(uint64_t seed, const void *key, size_t klen)
{
	return XXH3_64bits_withSeed(key, klen, seed);
}

/*
 * kvs_hash - XXH3-64 of @key with @seed.
 *
 * GCC does not inline XXH3_64bits_withSeed() on its own (it is large), so
 * keys over 16 bytes call kvs_hash_long(). Keys of at most 16 bytes, the
 * common case, call XXH3_64bits_withSeed() directly: in a caller marked
 * flatten (the read path's GET) it is inlined, and with klen known to be
 * at most 16 only XXH3's short-key path is left, about 15 instructions.
 */
static inline uint64_t kvs_hash(uint64_t seed, const void *key, size_t klen)
{
	if (__builtin_expect(klen <= 16, 1))
		return XXH3_64bits_withSeed(key, klen, seed);
	return kvs_hash_long(seed, key, klen);
}

/*
 * Shard: the top @shard_bits bits (0 to 63). Two shifts, so that 0 bits
 * needs no branch: h >> 64 would be undefined.
 */
static inline uint32_t kvs_hash_shard(uint64_t h, uint32_t shard_bits)
{
	return (uint32_t)((h >> 1) >> (63 - shard_bits));
}

/*
 * Home bucket among @n (1 .. 2^28): bits 16..47 of the hash scaled to @n,
 * a multiply and a shift where a modulo would take a division. The scaling
 * keeps order: keys in bucket order are in hash order.
 */
static inline uint64_t kvs_hash_bucket(uint64_t h, uint64_t n)
{
	return ((h >> 16) & 0xffffffffULL) * n >> 32;
}

/* Tag stored in the entry: the low 16 bits. */
static inline uint16_t kvs_hash_tag(uint64_t h)
{
	return (uint16_t)h;
}

#endif /* KVS_HASH_H */
