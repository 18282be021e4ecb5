/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/basic/error-message.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int error_message(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;
        char *m = NULL;

        if (!ret_error)
                return r;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        free(*ret_error);
        *ret_error = m;
        return r;
}
