/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging for the programs (vnumad, vnumactl, tools). Lines go to stderr with a "<N>" syslog
 * level prefix when stderr is not a terminal, so journald assigns the priority. When stderr is
 * the journal's own stream ($JOURNAL_STREAM names it, as systemd sets it for StandardError=journal)
 * every line goes to the journal natively instead, with its fields: a line about a VM carries
 * VNUMAD_VM=NAME, so `journalctl VNUMAD_VM=web1` finds it.
 * Library code logs at debug level at most; the caller logs errors once, with context. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <syslog.h>

#include "vnuma/basic/macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* Prefix every line with this program name (for terminals). */
void log_set_program(const char *name);
/* A command-line tool: its stderr goes to a person or a script, not to journald, so lines start
 * with "PROGRAM: " on a pipe or file too, never with a "<N>" level prefix. */
void log_set_console(bool console);
/* "err", "warning", "notice", "info", "debug" (and the rest of syslog's names) -> LOG_*, or -EINVAL. */
int log_level_from_string(const char *s);
/* From now on log through syslog(3) (a daemon without stderr). */
void log_open_syslog(void);

/* Returns -abs(error) when error != 0, so `return log_error_errno(r, "...")` works. */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);
/* The same for a line about one VM: vm (its name, vm-identity.h) goes into the VNUMAD_VM field.
 * The text stays the caller's ("VM %s: ..."), so the line reads the same everywhere. */
int log_internal_vm(int level, int error, const char *vm, const char *fmt, ...) _printf_(4, 5);

/* Whether $JOURNAL_STREAM ("DEV:INODE") names the file with this device and inode. */
bool log_journal_stream_matches(const char *env, dev_t dev, ino_t ino);
/* The native journal fields of one line (MESSAGE=, PRIORITY=, then SYSLOG_IDENTIFIER=, ERRNO= and
 * VNUMAD_VM= when there is one), formatted into buf (size bytes) and pointed to by iov. Returns
 * how many, at most LOG_JOURNAL_FIELDS_MAX; a field that does not fit is cut. */
#define LOG_JOURNAL_FIELDS_MAX 5
size_t log_journal_fields(int level, int error, const char *identifier, const char *vm, const char *msg,
                          char *buf, size_t size, struct iovec iov[LOG_JOURNAL_FIELDS_MAX]);

#define log_debug(...)   log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_internal(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_internal(LOG_DEBUG, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_internal(LOG_ERR, (e), __VA_ARGS__)

#define log_vm(level, vm, ...)          log_internal_vm((level), 0, (vm), __VA_ARGS__)
#define log_vm_errno(level, e, vm, ...) log_internal_vm((level), (e), (vm), __VA_ARGS__)
