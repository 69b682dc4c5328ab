/* SPDX-License-Identifier: MIT */
/*
 * tools/persistctl.h - kvshmctl's data-file commands (persistctl.c).
 * Each returns kvshmctl's exit status and prints its own messages.
 */
#ifndef KVCTL_PERSISTCTL_H
#define KVCTL_PERSISTCTL_H

#include "kvshm.h"

int ctl_check_wal(const char *dir);
int ctl_check_snapshot(const char *file);
int ctl_dump(kvshm_t *c, const char *file);
int ctl_restore(kvshm_t *c, const char *file);

#endif /* KVCTL_PERSISTCTL_H */
