/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/files.h - damaging and hand-building data files for the
 * durability tests. Every function bails out of the test on an I/O error.
 */
#ifndef KVSHM_TEST_FILES_H
#define KVSHM_TEST_FILES_H

#include <stddef.h>
#include <stdint.h>

/* Flip one bit (0x10) of the byte at @off of @path, in place. */
void flip_byte(const char *path, long off);

/* The metadata of a format 1 snapshot (see daemon/persist.h). */
struct snap_v1 {
	uint64_t lsn;
	uint64_t version_hw;
	uint64_t created_ms;
	uint64_t hash_seed;
	uint32_t nshards;
};

/*
 * write_snapshot_v1 - write @path as kvshm wrote snapshots before they had
 * parts: the metadata frame (format 1, no part table), one LZ4 frame of
 * the @rlen bytes of entries at @raw (kvp_ent_put() records, @nkeys of
 * them), the trailer. Return the file's size.
 */
size_t write_snapshot_v1(const char *path, const struct snap_v1 *m,
			 const char *raw, size_t rlen, uint64_t nkeys);

#endif /* KVSHM_TEST_FILES_H */
