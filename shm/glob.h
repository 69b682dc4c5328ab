/* SPDX-License-Identifier: MIT */
/*
 * shm/glob.h - binary-safe glob matching of keys.
 *
 * fnmatch(3) needs NUL-terminated strings and kvshm keys are binary, so this
 * is a small matcher over (pointer, length): '*' any run, '?' any byte,
 * '[abc]', '[a-z]', '[^x]' or '[!x]' classes, '\' quotes the next byte.
 */
#ifndef KVS_GLOB_H
#define KVS_GLOB_H

#include <stdbool.h>
#include <stddef.h>

bool kvs_glob_match(const char *pat, size_t plen, const char *s, size_t slen);

#endif /* KVS_GLOB_H */
