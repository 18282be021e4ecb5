/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/basic/string-sanitize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool printable(char c)
{
        return c >= 0x20 && c <= 0x7e;
}

void string_sanitize_inplace(char *s)
{
        for (; s && *s; s++)
                if (!printable(*s))
                        *s = '?';
}

int string_sanitize(const char *s, size_t max, char **ret)
{
        size_t n = s ? strnlen(s, max) : 0;
        char *copy = malloc(n + 1);

        if (!copy)
                return -ENOMEM;
        if (n)
                memcpy(copy, s, n);
        copy[n] = 0;
        string_sanitize_inplace(copy);
        *ret = copy;
        return 0;
}

bool string_is_printable(const char *s, size_t max)
{
        size_t n = 0;

        if (!s || !*s)
                return false;
        for (; *s; s++, n++)
                if (n >= max || !printable(*s))
                        return false;
        return true;
}

void string_neutralize_controls(char *s, size_t len, bool keep_newlines)
{
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];

                if ((c < 0x20 && c != '\t' && !(c == '\n' && keep_newlines)) || c == 0x7f)
                        s[i] = '?';
                else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
                         (unsigned char)s[i + 1] <= 0x9f) {
                        s[i] = '?';
                        s[++i] = '?';
                }
        }
}
