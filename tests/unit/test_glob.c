// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_glob.c - binary-safe glob matching for kvshm_keys().
 */
#include <string.h>

#include "glob.h"
#include "../tap.h"

static int m(const char *p, const char *s)
{
	return kvs_glob_match(p, strlen(p), s, strlen(s));
}

int main(void)
{
	plan_tests(14);
	ok(m("*", "") && m("*", "anything"), "* matches everything");
	ok(m("user:*", "user:42") && !m("user:*", "users:42"), "a prefix glob");
	ok(m("*:42", "user:42") && !m("*:42", "user:421"), "a suffix glob");
	ok(m("a?c", "abc") && !m("a?c", "ac"), "? is exactly one byte");
	ok(m("[abc]x", "bx") && !m("[abc]x", "dx"), "a class");
	ok(m("[a-c]x", "bx") && !m("[a-c]x", "dx"), "a range");
	ok(m("[^a-c]x", "dx") && !m("[!a-c]x", "ax"), "negated classes");
	ok(m("a\\*b", "a*b") && !m("a\\*b", "axb"), "\\ quotes a metacharacter");
	ok(m("*a*b*c*", "xxaxxbxxcxx") && !m("*a*b*c*", "xxcxxbxxa"),
	   "several stars backtrack");
	ok(m("[ab", "[ab"), "an unterminated class matches literally");
	ok(kvs_glob_match("a*", 2, "a\0b", 3), "keys may contain NUL bytes");
	ok(kvs_glob_match("a?b", 3, "a\0b", 3), "? matches a NUL byte");
	ok(!m("abc", "ab") && !m("ab", "abc"), "a literal must match whole");
	ok(!m("*aaaaaaaaaaaaaaaaaaaaaaab",
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	   "a pathological pattern terminates");
	return exit_status();
}
