// SPDX-License-Identifier: MIT
/*
 * tests/lib/files.c - see files.h.
 */
#include <fcntl.h>
#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "../tap.h"
#include "files.h"

void flip_byte(const char *path, long off)
{
	int fd = open(path, O_RDWR);
	unsigned char b;

	if (fd < 0 || pread(fd, &b, 1, off) != 1)
		bail_out("open %s", path);
	b ^= 0x10;
	if (pwrite(fd, &b, 1, off) != 1)
		bail_out("write %s", path);
	close(fd);
}

static void put32(char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(char *p, uint64_t v) { memcpy(p, &v, 8); }

size_t write_snapshot_v1(const char *path, const struct snap_v1 *m,
			 const char *raw, size_t rlen, uint64_t nkeys)
{
	LZ4F_preferences_t prefs = { 0 };
	size_t clen, cap, len;
	char *out, *q;
	int fd;

	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	cap = 72 + LZ4F_compressFrameBound(rlen, &prefs) + 40;
	out = calloc(1, cap);
	if (!out)
		bail_out("out of memory");
	/* metadata: a skippable frame */
	put32(out, 0x184D2A50U);
	put32(out + 4, 64);
	memcpy(out + 8, "KVSHMSNP", 8);
	put32(out + 16, 1);			/* format */
	put64(out + 24, m->lsn);
	put64(out + 32, m->version_hw);
	put64(out + 40, m->created_ms);
	put64(out + 48, m->hash_seed);
	put32(out + 56, m->nshards);
	put64(out + 64, XXH3_64bits(out + 8, 56));
	clen = LZ4F_compressFrame(out + 72, cap - 72 - 40, raw, rlen, &prefs);
	if (LZ4F_isError(clen))
		bail_out("LZ4F_compressFrame");
	/* trailer: another skippable frame */
	q = out + 72 + clen;
	put32(q, 0x184D2A51U);
	put32(q + 4, 32);
	memcpy(q + 8, "KVSHMEND", 8);
	put64(q + 16, nkeys);
	put64(q + 24, rlen);
	put64(q + 32, XXH3_64bits(q + 8, 24));
	len = 72 + clen + 40;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, out, len) != (ssize_t)len || close(fd) < 0)
		bail_out("write %s", path);
	free(out);
	return len;
}
