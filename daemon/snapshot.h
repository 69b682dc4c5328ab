/* SPDX-License-Identifier: MIT */
/*
 * daemon/snapshot.h - fuzzy snapshots of the table (format in persist.h)
 * and the start-up recovery that loads them and replays the WAL.
 *
 * A snapshot records the LSN of the last WAL record queued when it starts,
 * then copies the table shard by shard inside daemon-side read sections
 * (a reader slot of kvshmd's own, with a full fence: the RCU rules of
 * shm/epoch.h keep what it copies alive) while writes go on. It holds no
 * shard lock at all, so it never blocks readers or writers. Every change
 * up to its LSN is in the table when it starts, so "this snapshot, then
 * every WAL record after its LSN" rebuilds the state at any later LSN:
 * changes it saw early are simply applied again (records hold full
 * states, so that changes nothing).
 *
 * Files: DIR/snap-<LSN hex>.lz4, written as .tmp, fsynced, renamed, the
 * directory fsynced. The newest @keep are kept, and WAL segments wholly
 * before the oldest kept snapshot are removed, so a corrupt newest
 * snapshot can fall back to the one before it plus a longer WAL.
 */
#ifndef KVD_SNAPSHOT_H
#define KVD_SNAPSHOT_H

#include <stdint.h>

struct kvd;
struct kvd_snap;

struct kvd_snap_stats {
	uint64_t count;			/* snapshots written since start */
	uint64_t failed;
	uint64_t last_lsn;
	int64_t last_created_ms;	/* CLOCK_REALTIME */
	uint64_t last_duration_ms;
	uint64_t last_bytes;		/* file size */
	uint64_t last_items;
	uint64_t in_progress;
};

/*
 * kvd_snap_init - start the snapshot thread: it writes a snapshot when
 * asked (kvd_snap_request()), or when kvd_snap_tick() finds one due:
 * @interval_s seconds after the last with at least one write since (0 =
 * never), or after @after_writes WAL records (0 = never).
 */
int kvd_snap_init(struct kvd_snap **s, struct kvd *d, uint64_t interval_s,
		  uint64_t after_writes, unsigned int keep);
void kvd_snap_destroy(struct kvd_snap *s);

/*
 * kvd_snap_set_schedule - new @interval_s, @after_writes and @keep, as
 * for kvd_snap_init() (SIGHUP). Server thread. The interval counts from
 * the last snapshot, so a shorter one may make a snapshot due at once;
 * fewer kept files are pruned after the next snapshot.
 */
void kvd_snap_set_schedule(struct kvd_snap *s, uint64_t interval_s,
			   uint64_t after_writes, unsigned int keep);

/* An eventfd that becomes readable when a snapshot run ends. */
int kvd_snap_fd(struct kvd_snap *s);

/* Ask for a snapshot; return a ticket for kvd_snap_done(). */
uint64_t kvd_snap_request(struct kvd_snap *s);

/*
 * kvd_snap_done - after kvd_snap_fd() fired: the newest ticket served,
 * and that run's result (0 or -errno) and LSN.
 */
uint64_t kvd_snap_done(struct kvd_snap *s, int *rc, uint64_t *lsn);

/* Server thread, once per loop round: start a scheduled snapshot if due. */
void kvd_snap_tick(struct kvd_snap *s);

/* Write a snapshot now, on the calling thread (at a clean stop, after the
 * last write). Return 0 or -errno. */
int kvd_snap_write_now(struct kvd_snap *s);

void kvd_snap_get_stats(struct kvd_snap *s, struct kvd_snap_stats *st);

/*
 * kvd_recover - rebuild the table from DIR's newest valid snapshot and
 * the WAL after it. Truncates a torn WAL tail (logging the bytes dropped).
 * Refuses (returns -EBADMSG after logging which file and why) if no
 * consistent state can be built: a corrupt record inside the WAL, a gap
 * in the LSNs, or a snapshot whose WAL is gone.
 * @next_lsn: set to the LSN the WAL continues with.
 * Return: 0, -EBADMSG, -ENOMEM (the data does not fit), or -errno.
 */
int kvd_recover(struct kvd *d, const char *dir, uint64_t *next_lsn);

#endif /* KVD_SNAPSHOT_H */
