/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/basic/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vnuma/basic/string-sanitize.h"

static int max_level = LOG_INFO;
static const char *program;
static bool use_syslog;
static bool console;

void log_set_max_level(int level)
{
        max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

void log_set_program(const char *name)
{
        program = name;
}

void log_set_console(bool on)
{
        console = on;
}

int log_level_from_string(const char *s)
{
        static const char *const names[] = {"emerg",   "alert",  "crit", "err",
                                            "warning", "notice", "info", "debug"};

        for (int i = 0; i < (int)ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return i;
        return -EINVAL;
}

void log_open_syslog(void)
{
        openlog(program, LOG_PID | LOG_NDELAY, LOG_DAEMON);
        use_syslog = true;
}

int log_internal(int level, int error, const char *fmt, ...)
{
        int saved = errno;
        char msg[2048];
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > max_level)
                goto out;

        va_start(ap, fmt);
        /* %m in messages refers to the error we were given, not whatever errno is now. */
        errno = error;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* Messages quote what QEMU, clients and file names say: one line, no terminal controls. */
        string_neutralize_controls(msg, strlen(msg), false);

        if (use_syslog)
                syslog(level, "%s", msg);
        else if (console || isatty(STDERR_FILENO))
                fprintf(stderr, "%s%s%s\n", program ?: "", program ? ": " : "", msg);
        else
                fprintf(stderr, "<%d>%s\n", level, msg);
out:
        errno = saved;
        return error ? -error : 0;
}
