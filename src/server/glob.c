/*
 * glob.c — glob matching (see glob.h). Written from the documented Redis
 * semantics, iteratively: on `*` we remember where the star was and where
 * the string was, and on a later mismatch backtrack to "the star eats one
 * more byte". Only the last star needs remembering (classic wildcard
 * matching), so matching is O(plen * slen) at worst and uses no recursion.
 */
#include "glob.h"

#include <ctype.h>

static int fold(int c, int nocase) { return nocase ? tolower(c) : c; }

/* Matches one [...] class at pat[*pi] (pointing after '['), against byte c.
 * Advances *pi past the closing ']' (or to the end if unterminated, where
 * Redis treats the class as ending at the pattern end). */
static int match_class(const char *pat, size_t plen, size_t *pi, unsigned char c, int nocase)
{
    size_t i = *pi;
    int neg = 0, hit = 0;
    if (i < plen && pat[i] == '^') {
        neg = 1;
        i++;
    }
    for (;;) {
        if (i >= plen)
            break;
        if (pat[i] == ']') {
            i++;
            break;
        }
        if (pat[i] == '\\' && i + 1 < plen) {
            i++;
            if (fold((unsigned char)pat[i], nocase) == fold(c, nocase))
                hit = 1;
            i++;
        } else if (i + 2 < plen && pat[i + 1] == '-' ) {
            int a = fold((unsigned char)pat[i], nocase), b = fold((unsigned char)pat[i + 2], nocase);
            int x = fold(c, nocase);
            if (a > b) {
                int t = a;
                a = b;
                b = t;
            }
            if (x >= a && x <= b)
                hit = 1;
            i += 3;
        } else {
            if (fold((unsigned char)pat[i], nocase) == fold(c, nocase))
                hit = 1;
            i++;
        }
    }
    *pi = i;
    return neg ? !hit : hit;
}

int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase)
{
    size_t p = 0, s = 0;
    size_t star_p = (size_t)-1, star_s = 0;
    while (s < slen) {
        if (p < plen) {
            char pc = pat[p];
            if (pc == '*') {
                while (p < plen && pat[p] == '*')
                    p++;
                if (p == plen)
                    return 1;
                star_p = p;
                star_s = s;
                continue;
            }
            if (pc == '?') {
                p++;
                s++;
                continue;
            }
            if (pc == '[') {
                size_t np = p + 1;
                if (match_class(pat, plen, &np, (unsigned char)str[s], nocase)) {
                    p = np;
                    s++;
                    continue;
                }
            } else {
                size_t np = p;
                if (pc == '\\' && p + 1 < plen)
                    np++;
                if (fold((unsigned char)pat[np], nocase) == fold((unsigned char)str[s], nocase)) {
                    p = np + 1;
                    s++;
                    continue;
                }
            }
        }
        /* mismatch: let the last star swallow one more byte */
        if (star_p == (size_t)-1)
            return 0;
        p = star_p;
        s = ++star_s;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}
