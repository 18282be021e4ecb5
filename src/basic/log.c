/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/basic/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
/* CODE_FILE= etc. would all name log.c, not the caller. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
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

bool log_journal_stream_matches(const char *env, dev_t dev, ino_t ino)
{
        unsigned long long d, i;
        int n = -1;

        /* "DEV:INODE" in decimal, nothing else (systemd's exec_context writes it so). */
        if (!env || sscanf(env, "%llu:%llu%n", &d, &i, &n) != 2 || n < 0 || env[n] != 0 || env[0] < '0' ||
            env[0] > '9')
                return false;
        return d == (unsigned long long)dev && i == (unsigned long long)ino;
}

/* Whether stderr is the journal's stream, as systemd connected it: then lines go natively. */
static bool stderr_is_journal(void)
{
        static int cached = -1;
        struct stat st;

        if (cached < 0)
                cached = fstat(STDERR_FILENO, &st) >= 0 &&
                         log_journal_stream_matches(getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
        return cached;
}

static void add_field(struct iovec *iov, size_t *n, char *buf, size_t size, size_t *used, const char *fmt,
                      ...) _printf_(6, 7);
static void add_field(struct iovec *iov, size_t *n, char *buf, size_t size, size_t *used, const char *fmt,
                      ...)
{
        va_list ap;
        int len;

        if (*used >= size)
                return;
        va_start(ap, fmt);
        len = vsnprintf(buf + *used, size - *used, fmt, ap);
        va_end(ap);
        if (len < 0)
                return;
        len = (int)MIN((size_t)len, size - *used - 1);
        iov[*n] = (struct iovec){.iov_base = buf + *used, .iov_len = (size_t)len};
        (*n)++;
        *used += (size_t)len + 1;
}

size_t log_journal_fields(int level, int error, const char *identifier, const char *vm, const char *msg,
                          char *buf, size_t size, struct iovec iov[LOG_JOURNAL_FIELDS_MAX])
{
        size_t n = 0, used = 0;

        add_field(iov, &n, buf, size, &used, "MESSAGE=%s", msg);
        add_field(iov, &n, buf, size, &used, "PRIORITY=%d", level);
        if (identifier)
                add_field(iov, &n, buf, size, &used, "SYSLOG_IDENTIFIER=%s", identifier);
        if (error > 0)
                add_field(iov, &n, buf, size, &used, "ERRNO=%d", error);
        if (vm)
                add_field(iov, &n, buf, size, &used, "VNUMAD_VM=%s", vm);
        return n;
}

static void log_write(int level, int error, const char *vm, const char *fmt, va_list ap) _printf_(4, 0);
static void log_write(int level, int error, const char *vm, const char *fmt, va_list ap)
{
        char msg[2048];

        /* %m in messages refers to the error we were given, not whatever errno is now. */
        errno = error;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        /* Messages quote what QEMU, clients and file names say: one line, no terminal controls. */
        string_neutralize_controls(msg, strlen(msg), false);

        if (use_syslog)
                syslog(level, "%s", msg);
        else if (!console && stderr_is_journal()) {
                char buf[sizeof(msg) + 512];
                struct iovec iov[LOG_JOURNAL_FIELDS_MAX];
                size_t n = log_journal_fields(level, error, program, vm, msg, buf, sizeof(buf), iov);

                /* The journal refused (full, gone): the stream is still there. */
                if (sd_journal_sendv(iov, (int)n) < 0)
                        fprintf(stderr, "<%d>%s\n", level, msg);
        } else if (console || isatty(STDERR_FILENO))
                fprintf(stderr, "%s%s%s\n", program ?: "", program ? ": " : "", msg);
        else
                fprintf(stderr, "<%d>%s\n", level, msg);
}

/* Both entry points: the level filter, errno kept, the error returned as -errno. */
static int log_vdispatch(int level, int error, const char *vm, const char *fmt, va_list ap) _printf_(4, 0);
static int log_vdispatch(int level, int error, const char *vm, const char *fmt, va_list ap)
{
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level <= max_level)
                log_write(level, error, vm, fmt, ap);
        errno = saved;
        return error ? -error : 0;
}

int log_internal(int level, int error, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_vdispatch(level, error, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int log_internal_vm(int level, int error, const char *vm, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_vdispatch(level, error, vm, fmt, ap);
        va_end(ap);
        return r;
}
