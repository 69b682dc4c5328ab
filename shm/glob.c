// SPDX-License-Identifier: MIT
/*
 * shm/glob.c - binary-safe glob matcher (see glob.h).
 *
 * Iterative with one backtrack point for the last '*', so the cost is
 * O(plen * slen) at worst and a hostile pattern cannot recurse deeply.
 */
#include "glob.h"

/*
 * Match one class "[...]" starting at pat[*pi] (just after '[') against
 * byte @c; advances *pi past the closing ']'. An unterminated class matches
 * '[' literally.
 */
static bool class_match(const char *pat, size_t plen, size_t *pi,
			unsigned char c, bool *ok)
{
	size_t i = *pi;
	bool neg = false, hit = false;

	if (i < plen && (pat[i] == '^' || pat[i] == '!')) {
		neg = true;
		i++;
	}
	while (i < plen && (pat[i] != ']' || i == *pi + neg)) {
		unsigned char lo, hi;

		if (pat[i] == '\\' && i + 1 < plen)
			i++;
		lo = (unsigned char)pat[i];
		hi = lo;
		if (i + 2 < plen && pat[i + 1] == '-' && pat[i + 2] != ']') {
			i += 2;
			if (pat[i] == '\\' && i + 1 < plen)
				i++;
			hi = (unsigned char)pat[i];
			if (lo > hi) {
				unsigned char t = lo;

				lo = hi;
				hi = t;
			}
		}
		if (c >= lo && c <= hi)
			hit = true;
		i++;
	}
	if (i >= plen) {		/* no closing ']' */
		*ok = false;
		return c == '[';
	}
	*ok = true;
	*pi = i + 1;
	return hit != neg;
}

bool kvs_glob_match(const char *pat, size_t plen, const char *s, size_t slen)
{
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;

	while (si < slen) {
		if (pi < plen && pat[pi] == '*') {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < plen) {
			unsigned char c = (unsigned char)s[si];
			size_t npi = pi + 1;
			bool m, ok;

			switch (pat[pi]) {
			case '?':
				m = true;
				break;
			case '[':
				m = class_match(pat, plen, &npi, c, &ok);
				if (!ok)
					npi = pi + 1;
				break;
			case '\\':
				if (pi + 1 < plen)
					npi = pi + 2;
				m = (unsigned char)pat[npi - 1] == c;
				break;
			default:
				m = (unsigned char)pat[pi] == c;
				break;
			}
			if (m) {
				pi = npi;
				si++;
				continue;
			}
		}
		if (star_p == (size_t)-1)
			return false;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < plen && pat[pi] == '*')
		pi++;
	return pi == plen;
}
