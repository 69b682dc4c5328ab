// SPDX-License-Identifier: MIT
/*
 * daemon/access.c - the access-control settings and the write check.
 * See access.h. Names are resolved once, when the options are read
 * (getpwnam/getgrnam), so the check itself never calls into NSS.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "kvshmd.h"

void kvd_access_defaults(struct kvd_access *a)
{
	memset(a, 0, sizeof(*a));
	a->data_mode = 0640;
	a->rw_mode = 0660;
	a->socket_mode = 0660;
	a->writers_any = true;
}

/* A decimal id, 0..UINT32_MAX-1 (-1 is "no change" to chown). */
static int parse_id(const char *s, uint32_t *out)
{
	uint64_t v;

	if (kvd_parse_uint(s, 0, UINT32_MAX - 1, &v) < 0)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int group_id(const char *name, uint32_t *out)
{
	struct group *g;

	if (parse_id(name, out) == 0)
		return 0;
	g = getgrnam(name);
	if (!g)
		return -EINVAL;
	*out = (uint32_t)g->gr_gid;
	return 0;
}

static int user_id(const char *name, uint32_t *out)
{
	struct passwd *pw;

	if (parse_id(name, out) == 0)
		return 0;
	pw = getpwnam(name);
	if (!pw)
		return -EINVAL;
	*out = (uint32_t)pw->pw_uid;
	return 0;
}

int kvd_access_set_group(struct kvd_access *a, const char *val,
			 const char **why)
{
	uint32_t id;

	if (group_id(val, &id) < 0) {
		*why = "no such group";
		return -EINVAL;
	}
	a->group = (gid_t)id;
	a->group_set = true;
	return 0;
}

int kvd_access_set_mode(mode_t *mode, const char *val, bool data,
			const char **why)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(val, &end, 8);
	if (errno || *end || end == val || *val == '-' || v > 0777) {
		*why = "an octal mode, 0..0777";
		return -EINVAL;
	}
	/* Only kvshmd writes the data: no one else may open it for writing. */
	if (data && (v & 022)) {
		*why = "the data segment must not be writable by group or others";
		return -EINVAL;
	}
	if ((v & 0600) != 0600) {
		*why = "the owner (kvshmd) needs read and write";
		return -EINVAL;
	}
	*mode = (mode_t)v;
	return 0;
}

int kvd_access_set_writers(struct kvd_access *a, const char *val,
			   const char **why)
{
	struct kvd_access t = *a;
	const char *p = val;

	t.nwriters = 0;
	t.writers_any = false;
	if (strcmp(val, "*") == 0) {
		a->writers_any = true;
		a->nwriters = 0;
		return 0;
	}
	while (*p) {
		char name[256];
		size_t n = strcspn(p, ",");
		struct kvd_principal w = { .group = *p == '@' };

		if (n == 0 || n - w.group == 0 || n >= sizeof(name)) {
			*why = "a comma-separated list of users and @groups";
			return -EINVAL;
		}
		memcpy(name, p + w.group, n - w.group);
		name[n - w.group] = '\0';
		if ((w.group ? group_id(name, &w.id) : user_id(name, &w.id)) < 0) {
			*why = w.group ? "no such group" : "no such user";
			return -EINVAL;
		}
		if (t.nwriters == KVD_MAX_WRITERS) {
			*why = "at most 32 users and groups";
			return -EINVAL;
		}
		t.writers[t.nwriters++] = w;
		p += n;
		if (*p == ',' && *++p == '\0') {
			*why = "a comma-separated list of users and @groups";
			return -EINVAL;
		}
	}
	if (t.nwriters == 0) {
		*why = "a comma-separated list of users and @groups, or *";
		return -EINVAL;
	}
	*a = t;
	return 0;
}

void kvd_access_value(const struct kvd_access *a, const char *key,
		      char *buf, size_t len)
{
	unsigned int i;
	size_t n = 0;

	buf[0] = '\0';
	if (strcmp(key, "group") == 0) {
		if (a->group_set)
			snprintf(buf, len, "%u", (unsigned int)a->group);
	} else if (strcmp(key, "data-mode") == 0) {
		snprintf(buf, len, "%04o", (unsigned int)a->data_mode);
	} else if (strcmp(key, "rw-mode") == 0) {
		snprintf(buf, len, "%04o", (unsigned int)a->rw_mode);
	} else if (strcmp(key, "socket-mode") == 0) {
		snprintf(buf, len, "%04o", (unsigned int)a->socket_mode);
	} else if (strcmp(key, "writers") == 0) {
		if (a->writers_any) {
			snprintf(buf, len, "*");
			return;
		}
		for (i = 0; i < a->nwriters && n < len; i++) {
			int w = snprintf(buf + n, len - n, "%s%s%u", i ? "," : "",
					 a->writers[i].group ? "@" : "",
					 a->writers[i].id);

			if (w < 0)
				break;
			n += (size_t)w;
		}
	}
}

void kvd_access_print(const struct kvd_access *a, FILE *f)
{
	unsigned int i;

	if (a->group_set)
		fprintf(f, "group %u\n", (unsigned int)a->group);
	fprintf(f, "data-mode %04o\n", (unsigned int)a->data_mode);
	fprintf(f, "rw-mode %04o\n", (unsigned int)a->rw_mode);
	fprintf(f, "socket-mode %04o\n", (unsigned int)a->socket_mode);
	if (a->writers_any) {
		fprintf(f, "writers *\n");
		return;
	}
	fprintf(f, "writers ");
	for (i = 0; i < a->nwriters; i++)
		fprintf(f, "%s%s%u", i ? "," : "", a->writers[i].group ? "@" : "",
			a->writers[i].id);
	fprintf(f, "\n");
}

/* Is @gid among the peer's groups (primary, then supplementary)? */
static bool peer_in_group(int fd, gid_t primary, gid_t gid)
{
	gid_t local[64], *groups = local;
	socklen_t len = sizeof(local);
	bool found = false;
	size_t i;

	if (primary == gid)
		return true;
	/* The supplementary groups the peer had when it connected; ERANGE
	 * gives the length needed. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || !(groups = malloc(len)))
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
			free(groups);
			return false;
		}
	}
	for (i = 0; i < len / sizeof(groups[0]) && !found; i++)
		found = groups[i] == gid;
	if (groups != local)
		free(groups);
	return found;
}

bool kvd_access_may_write(const struct kvd_access *a, int fd, uid_t uid,
			  gid_t gid)
{
	unsigned int i;

	if (a->writers_any || uid == 0 || uid == geteuid())
		return true;
	for (i = 0; i < a->nwriters; i++) {
		const struct kvd_principal *w = &a->writers[i];

		if (w->group ? peer_in_group(fd, gid, (gid_t)w->id) :
			       uid == (uid_t)w->id)
			return true;
	}
	return false;
}

int kvd_access_chgrp(const struct kvd_access *a, int fd, const char *path)
{
	if (!a->group_set)
		return 0;
	if (fd >= 0 ? fchown(fd, (uid_t)-1, a->group) :
		      chown(path, (uid_t)-1, a->group))
		return -errno;
	return 0;
}
