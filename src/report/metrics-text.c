/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/report/metrics-text.h"

const char *prom_label_escape(char *buf, size_t size, const char *s)
{
        size_t n = 0;

        if (size == 0)
                return buf;
        for (; s && *s; s++) {
                char esc = *s == '\\' ? '\\' : *s == '"' ? '"' : *s == '\n' ? 'n' : 0;
                size_t need = esc ? 2 : 1;

                if (n + need >= size)
                        break;
                if (esc) {
                        buf[n++] = '\\';
                        buf[n++] = esc;
                } else
                        buf[n++] = *s;
        }
        buf[n] = 0;
        return buf;
}
