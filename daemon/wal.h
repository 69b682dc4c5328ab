/* SPDX-License-Identifier: MIT */
/*
 * daemon/wal.h - the write-ahead log: segmented files of checksummed
 * records (format in persist.h), with group commit.
 *
 * How a write becomes durable:
 *  1. exec publishes the change in shared memory and emits its event; the
 *     WAL's hook (any daemon thread, under the key's shard lock) encodes
 *     the full resulting state as an entry. The events of one multi-key op
 *     (BATCH_BEGIN..BATCH_END) become one record, so a batch is recovered
 *     all or nothing. The record gets the next LSN and goes to an
 *     in-memory queue. Per-key order in the log is apply order, because
 *     the LSN is taken under the shard lock.
 *  2. The server thread calls kvd_wal_commit() once per event-loop round,
 *     after executing every request it read in that round and before
 *     sending any reply: one copy of every queued record (the group) into
 *     the segment, which is preallocated and mapped shared, so the group
 *     is in the page cache (where a kvshmd crash cannot lose it) without
 *     a system call; write(2) where the file system cannot preallocate.
 *     Under fsync=always the sync thread then fdatasync()s while the
 *     server goes on with the next round, and the round's replies are
 *     held until that sync covers them (pipelined group commit); so a
 *     client is told "done" only when its write is durable per the policy.
 *     Under fsync=everysec the sync thread calls fdatasync(2) once a second
 *     when something was written (replies go out after the copy);
 *     under fsync=no the kernel decides.
 *  3. A segment that passes the size limit is cut to its records, synced,
 *     closed, and a new one started, named after its first LSN. A segment
 *     left unfinished by a crash ends in zeros, which recovery cuts.
 *
 * A failed write or sync is fatal: kvshmd logs it and exits, since it can
 * no longer promise durability for what it acknowledges; restart recovers
 * every acknowledged write.
 */
#ifndef KVD_WAL_H
#define KVD_WAL_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "hooks.h"

enum kvd_fsync {
	KVD_FSYNC_NO,
	KVD_FSYNC_EVERYSEC,
	KVD_FSYNC_ALWAYS,
};

const char *kvd_fsync_name(enum kvd_fsync f);
int kvd_fsync_parse(const char *s, enum kvd_fsync *f);

struct kvd_wal;

/*
 * kvd_wal_open - start a new segment in @dir whose first record will have
 * LSN @next_lsn. @version is the daemon's version counter (read for each
 * record's version_hw).
 * Return: 0 or -errno.
 */
int kvd_wal_open(struct kvd_wal **w, const char *dir, uint64_t next_lsn,
		 enum kvd_fsync policy, uint64_t segment_size,
		 const uint64_t *version);

/* Subscribe to the table's events (at start-up, before serving). */
void kvd_wal_attach(struct kvd_wal *w, struct kvd_hooks *hs);

/*
 * kvd_wal_commit - put every queued record in the segment (copy or
 * write), and have it synced under fsync=always. Server thread only.
 * Return the number of records committed.
 */
uint64_t kvd_wal_commit(struct kvd_wal *w);

/*
 * Under fsync=always the replies to a round's writes wait until
 * kvd_wal_synced_lsn() reaches the LSN the round's commit wrote
 * (kvd_wal_written_lsn() after it): the sync thread signals
 * kvd_wal_event_fd() each time it advances. kvd_wal_holds_replies() says
 * whether replies must wait (only under always).
 */
int kvd_wal_event_fd(struct kvd_wal *w);
uint64_t kvd_wal_synced_lsn(struct kvd_wal *w);
uint64_t kvd_wal_written_lsn(struct kvd_wal *w);
bool kvd_wal_holds_replies(struct kvd_wal *w);

/* LSN of the last record queued (every change up to it is visible in
 * shared memory). */
uint64_t kvd_wal_last_lsn(struct kvd_wal *w);

void kvd_wal_set_fsync(struct kvd_wal *w, enum kvd_fsync policy);

/*
 * kvd_wal_trim - remove the segments whose records all have LSN <= @lsn
 * (never the segment being written). Any thread. Return how many.
 */
int kvd_wal_trim(struct kvd_wal *w, uint64_t lsn);

struct kvd_wal_stats {
	uint64_t lsn;			/* last queued */
	uint64_t written_lsn;		/* last written to the file */
	uint64_t synced_lsn;		/* last known on stable storage */
	uint64_t bytes;			/* written since start */
	uint64_t records;
	uint64_t commits;		/* group writes */
	struct kvd_hist_snap fsync;	/* fdatasync() latency; its count
					 * is the number of syncs */
	uint64_t segments;		/* files in the data directory */
	enum kvd_fsync policy;
};
void kvd_wal_get_stats(struct kvd_wal *w, struct kvd_wal_stats *st);

/* Commit, sync, cut the segment to its records, close. Server thread,
 * after the last write. */
void kvd_wal_close(struct kvd_wal *w);

#endif /* KVD_WAL_H */
