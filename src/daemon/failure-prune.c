/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keeping the list of QMP sockets and domains that failed (vm-registry.c) small: it is only
 * ever added to there, and a --qmp-dir where sockets come and go, or a QEMU that makes up new
 * socket names, would otherwise grow it for as long as the daemon runs. An entry also remembers
 * its last error, so that a retry failing the same way is not warned about again: it is kept for
 * as long as its socket exists, not just until its retry is due. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "vnuma/basic/log.h"

/* Whether the entry still changes what discovery does: a live owner, a retry still ahead, or an
 * error whose repeat is logged at debug only. */
static bool failure_matters(struct daemon *d, const struct qmp_failure *f)
{
        if (f->owner && vm_manager_find(&d->vms, f->owner))
                return true;
        return d->period < f->retry_period || f->error;
}

/* A socket path that is gone: a QEMU that comes back there is a new one, tried afresh.
 * Libvirt keys ("libvirt:UUID") are not paths: they go when the domain stops (daemon-libvirt.c),
 * or when they no longer matter, or over the bound. */
static bool socket_gone(const char *key)
{
        struct stat st;

        return key[0] == '/' && lstat(key, &st) < 0 && errno == ENOENT;
}

static void remove_at(struct daemon *d, unsigned i)
{
        free(d->failures[i].path);
        free(d->failures[i].error);
        d->failures[i] = d->failures[--d->n_failures];
}

static int cmp_retry(const void *a, const void *b)
{
        const struct qmp_failure *x = a, *y = b;

        /* Owned entries last: they stop a second manager of one QEMU, not just a retry. */
        if (!x->owner != !y->owner)
                return x->owner ? 1 : -1;
        return (x->retry_period > y->retry_period) - (x->retry_period < y->retry_period);
}

void daemon_prune_failures(struct daemon *d)
{
        unsigned before = d->n_failures;

        for (unsigned i = 0; i < d->n_failures;)
                if (!failure_matters(d, &d->failures[i]) || socket_gone(d->failures[i].path))
                        remove_at(d, i);
                else
                        i++;
        if (d->n_failures > QMP_FAILURES_MAX) {
                /* Over the bound: the entries that would be retried soonest go first, so the
                 * price is an earlier retry, never a forgotten owner before a plain failure. */
                qsort(d->failures, d->n_failures, sizeof(*d->failures), cmp_retry);
                log_notice("%u QMP sockets or domains failed recently; retrying the %u oldest early.",
                           d->n_failures, d->n_failures - QMP_FAILURES_MAX);
                for (unsigned i = 0; i < d->n_failures - QMP_FAILURES_MAX; i++) {
                        free(d->failures[i].path);
                        free(d->failures[i].error);
                }
                memmove(d->failures, d->failures + (d->n_failures - QMP_FAILURES_MAX),
                        QMP_FAILURES_MAX * sizeof(*d->failures));
                d->n_failures = QMP_FAILURES_MAX;
        }
        if (d->n_failures < before)
                log_debug("Forgot %u failed QMP sockets or domains; %u left.", before - d->n_failures,
                          d->n_failures);
        if (d->n_failures == 0) {
                free(d->failures);
                d->failures = NULL;
        }
}
