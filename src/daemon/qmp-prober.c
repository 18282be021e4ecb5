/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A worker thread per batch of QMP sockets to learn, and an eventfd that wakes the event loop
 * when the batch is done. The worker shares nothing with the loop while it runs: it owns the
 * batch's paths and results until it signals, and the loop joins it before reading them. */
#include "qmp-prober.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vnuma/basic/event-loop.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"

struct qmp_prober {
        char *procfs_root;
        qmp_prober_done_cb done;
        void *userdata;
        int event_fd;
        int watch;

        /* The batch: written by the loop before the thread starts, by the thread until it
         * signals, read by the loop after the join. */
        pthread_t thread;
        bool running;
        atomic_bool cancel;
        char **paths;
        struct qmp_probe *probes;
        size_t n;
        int timeout_ms;
};

static void batch_free(struct qmp_prober *p)
{
        for (size_t i = 0; i < p->n; i++) {
                free(p->paths[i]);
                if (p->probes)
                        qmp_probe_done(&p->probes[i]);
        }
        free(p->paths);
        free(p->probes);
        p->paths = NULL;
        p->probes = NULL;
        p->n = 0;
}

static void *worker(void *userdata)
{
        struct qmp_prober *p = userdata;
        uint64_t one = 1;

        for (size_t i = 0; i < p->n; i++) {
                if (atomic_load(&p->cancel)) {
                        p->probes[i] = (struct qmp_probe){.path = strdup(p->paths[i]), .r = -ECANCELED};
                        continue;
                }
                (void)qmp_probe_run(p->procfs_root, p->timeout_ms, p->paths[i], &p->probes[i]);
        }
        /* An eventfd write of 1 cannot block (the counter is read back every batch). */
        if (write(p->event_fd, &one, sizeof(one)) != sizeof(one))
                log_warning("Cannot wake the event loop after learning QMP sockets: %m");
        return NULL;
}

static void join(struct qmp_prober *p)
{
        if (!p->running)
                return;
        pthread_join(p->thread, NULL);
        p->running = false;
}

static void on_done(int fd, bool readable, bool hangup, void *userdata)
{
        struct qmp_prober *p = userdata;
        uint64_t count;

        (void)hangup;
        if (!readable || read(fd, &count, sizeof(count)) != sizeof(count))
                return;
        join(p);
        if (p->probes)
                p->done(p->probes, p->n, p->userdata);
        batch_free(p);
}

int qmp_prober_new(const char *procfs_root, qmp_prober_done_cb done, void *userdata, struct qmp_prober **ret)
{
        struct qmp_prober *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        *p = (struct qmp_prober){.done = done, .userdata = userdata, .event_fd = -1, .watch = -1};
        atomic_init(&p->cancel, false);
        p->procfs_root = procfs_root ? strdup(procfs_root) : NULL;
        p->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if ((procfs_root && !p->procfs_root) || p->event_fd < 0) {
                int r = p->event_fd < 0 ? -errno : -ENOMEM;
                qmp_prober_free(p);
                return r;
        }
        p->watch = event_loop_add_io(p->event_fd, on_done, p);
        if (p->watch < 0) {
                int r = p->watch;
                qmp_prober_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

void qmp_prober_free(struct qmp_prober *p)
{
        if (!p)
                return;
        atomic_store(&p->cancel, true);
        join(p);
        batch_free(p);
        event_loop_remove_io(p->watch);
        closep(&p->event_fd);
        free(p->procfs_root);
        free(p);
}

bool qmp_prober_busy(const struct qmp_prober *p)
{
        return p->running || p->n > 0;
}

int qmp_prober_start(struct qmp_prober *p, char **paths, size_t n, int timeout_ms)
{
        int r;

        if (qmp_prober_busy(p)) {
                for (size_t i = 0; i < n; i++)
                        free(paths[i]);
                free(paths);
                return -EBUSY;
        }
        p->paths = paths;
        p->n = n;
        if (n == 0) {
                batch_free(p);
                return 0;
        }
        p->probes = calloc(n, sizeof(*p->probes));
        if (!p->probes) {
                batch_free(p);
                return -ENOMEM;
        }
        p->timeout_ms = timeout_ms;
        r = -pthread_create(&p->thread, NULL, worker, p);
        if (r < 0) {
                free(p->probes);
                p->probes = NULL;
                batch_free(p);
                return r;
        }
        p->running = true;
        return 0;
}
