/* SPDX-License-Identifier: MIT */
/*
 * daemon/access.h - who may attach and who may write.
 *
 * Attaching is decided by the kernel: the owner group and modes kvshmd
 * gives its two shared-memory objects and its socket (--group,
 * --data-mode, --rw-mode, --socket-mode). Writing is decided here, from
 * the peer credentials of each connection (SO_PEERCRED, SO_PEERGROUPS)
 * against --writers: a list of users and @groups. The daemon's own user
 * and root may always write.
 */
#ifndef KVD_ACCESS_H
#define KVD_ACCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define KVD_MAX_WRITERS	32

struct kvd_principal {
	bool group;			/* a gid (from @name), else a uid */
	uint32_t id;
};

struct kvd_access {
	bool group_set;			/* --group given */
	gid_t group;
	mode_t data_mode;		/* default 0640 */
	mode_t rw_mode;			/* default 0660 */
	mode_t socket_mode;		/* default 0660 */
	bool writers_any;		/* no --writers (or "*"): anyone */
	unsigned int nwriters;
	struct kvd_principal writers[KVD_MAX_WRITERS];
};

void kvd_access_defaults(struct kvd_access *a);

/*
 * Parsers for the options; each returns 0, or -EINVAL with a reason in
 * *@why (a static string) for the caller's message.
 */
int kvd_access_set_group(struct kvd_access *a, const char *val,
			 const char **why);
int kvd_access_set_mode(mode_t *mode, const char *val, bool data,
			const char **why);
int kvd_access_set_writers(struct kvd_access *a, const char *val,
			   const char **why);

/* "key value" lines for --check-config and CONFIG_GET. */
void kvd_access_print(const struct kvd_access *a, FILE *f);

/* The value of setting @key ("group", "data-mode", "rw-mode",
 * "socket-mode", "writers") as text, for comparisons and logs. */
void kvd_access_value(const struct kvd_access *a, const char *key,
		      char *buf, size_t len);

/*
 * kvd_access_may_write - may the peer of connected socket @fd, whose
 * SO_PEERCRED said @uid/@gid, write? Called once per connection.
 */
bool kvd_access_may_write(const struct kvd_access *a, int fd, uid_t uid,
			  gid_t gid);

/* Give @fd (or @path if @fd < 0) the configured group, if one was set. */
int kvd_access_chgrp(const struct kvd_access *a, int fd, const char *path);

#endif /* KVD_ACCESS_H */
