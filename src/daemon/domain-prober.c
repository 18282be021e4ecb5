/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One detached thread per domain being learned. A thread cannot be cancelled out of a libvirt
 * call, so nothing waits for one: the threads and the event loop share a small refcounted core
 * (a lock, the list of finished probes, the eventfd that wakes the loop), freed by whoever lets
 * go of it last. Which domains are under way is the loop's own business (no lock). */
#include "domain-prober.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon.h"
#include "vm-identity.h"
#include "vnuma/basic/event-loop.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"
#include "vnuma/libvirt/libvirt-error.h"
#include "vnuma/qemu/guest-query.h"
#include "vnuma/qmp/libvirt-qmp.h"
#include "vnuma/qmp/qmp.h"

struct probe_job {
        struct probe_core *core;
        int timeout_ms;
        struct domain_probe probe;
        struct probe_job *next;
};

struct probe_core {
        pthread_mutex_t lock;
        unsigned refs; /* the loop's and one per thread */
        struct probe_job *finished;
        int event_fd;
        char *procfs_root;
        char *uri;
};

struct under_way {
        char *uuid;
        char *name;
        uint64_t started_ns;
        uint64_t budget_ns;
        bool stale;
        bool reported;
};

struct domain_prober {
        struct probe_core *core;
        int watch;
        domain_prober_done_cb done;
        void *userdata;
        struct under_way jobs[DOMAIN_PROBES_MAX];
        unsigned n_jobs;
};

void domain_probe_done(struct domain_probe *p)
{
        if (!p)
                return;
        if (p->dom)
                virDomainFree(p->dom);
        free(p->name);
        free(p->uuid);
        free(p->identity);
        guest_model_free(p->model);
        free(p->error);
        *p = (struct domain_probe){0};
}

static void job_free(struct probe_job *j)
{
        if (!j)
                return;
        domain_probe_done(&j->probe);
        free(j);
}

static void core_unref(struct probe_core *c)
{
        bool last;

        pthread_mutex_lock(&c->lock);
        last = --c->refs == 0;
        pthread_mutex_unlock(&c->lock);
        if (!last)
                return;
        while (c->finished) {
                struct probe_job *j = c->finished;
                c->finished = j->next;
                job_free(j);
        }
        closep(&c->event_fd);
        free(c->procfs_root);
        free(c->uri);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

/* The process is libvirt's word, the threads must be its threads, the layout is QEMU's answer
 * within the time budget. On a connection of the probe's own: libvirt's client passes one
 * connection's socket between the threads that call on it, and a thread that waits for a silent
 * QEMU held up the event loop's calls on a shared one for seconds at a time (until a keepalive
 * came in). */
static int probe(const struct probe_core *c, int timeout_ms, struct domain_probe *p)
{
        _cleanup_(qmp_client_freep) struct qmp_client *qmp = NULL;
        virConnectPtr conn;
        virDomainPtr dom = NULL;
        int r;

        r = vm_identity_from_domain(p->name, &p->identity);
        if (r < 0)
                return p->r = r;
        conn = virConnectOpen(c->uri);
        if (!conn)
                return p->r = libvirt_last_error(&p->error);
        dom = virDomainLookupByUUIDString(conn, p->uuid);
        if (!dom)
                r = libvirt_last_error(&p->error);
        if (r >= 0)
                r = libvirt_qmp_domain_pid(dom, LIBVIRT_QEMU_RUN_DIR, &p->pid, &p->error);
        if (r >= 0)
                r = libvirt_qmp_open(dom, &qmp);
        if (r >= 0) {
                qmp_client_set_timeout(qmp, timeout_ms);
                r = vm_identity_check_threads(qmp, c->procfs_root, p->pid, (free(p->error), &p->error));
                p->refused = r == -EPERM;
        }
        if (r >= 0)
                r = guest_model_query(qmp, c->procfs_root, &p->model, (free(p->error), &p->error));
        /* The client holds a reference on dom: gone before the connection is. */
        qmp_client_free(TAKE_PTR(qmp));
        if (dom)
                virDomainFree(dom);
        virConnectClose(conn);
        return p->r = r;
}

static void *worker(void *userdata)
{
        struct probe_job *j = userdata;
        struct probe_core *c = j->core;
        uint64_t one = 1;

        (void)probe(c, j->timeout_ms, &j->probe);
        pthread_mutex_lock(&c->lock);
        j->next = c->finished;
        c->finished = j;
        pthread_mutex_unlock(&c->lock);
        /* An eventfd write of 1 cannot block (the loop reads the counter back). */
        if (write(c->event_fd, &one, sizeof(one)) != sizeof(one))
                log_warning("Cannot wake the event loop after learning a libvirt domain: %m");
        core_unref(c);
        return NULL;
}

static struct under_way *find(struct domain_prober *p, const char *uuid)
{
        for (unsigned i = 0; i < p->n_jobs; i++)
                if (streq(p->jobs[i].uuid, uuid))
                        return &p->jobs[i];
        return NULL;
}

static void under_way_remove(struct domain_prober *p, struct under_way *u)
{
        free(u->uuid);
        free(u->name);
        *u = p->jobs[--p->n_jobs];
}

static void on_finished(int fd, bool readable, bool hangup, void *userdata)
{
        struct domain_prober *p = userdata;
        struct probe_job *list;
        uint64_t count;

        (void)hangup;
        if (!readable || read(fd, &count, sizeof(count)) != sizeof(count))
                return;
        pthread_mutex_lock(&p->core->lock);
        list = p->core->finished;
        p->core->finished = NULL;
        pthread_mutex_unlock(&p->core->lock);
        while (list) {
                struct probe_job *j = list;
                struct under_way *u = find(p, j->probe.uuid);
                bool stale = !u || u->stale;

                list = j->next;
                if (u)
                        under_way_remove(p, u);
                p->done(&j->probe, stale, p->userdata);
                job_free(j);
        }
}

int domain_prober_new(const char *procfs_root, const char *uri, domain_prober_done_cb done, void *userdata,
                      struct domain_prober **ret)
{
        struct domain_prober *p = calloc(1, sizeof(*p));
        struct probe_core *c = calloc(1, sizeof(*c));
        int r = -ENOMEM;

        if (!p || !c)
                goto fail;
        c->refs = 1;
        c->event_fd = -1;
        pthread_mutex_init(&c->lock, NULL);
        p->core = c;
        c = NULL;
        p->done = done;
        p->userdata = userdata;
        p->watch = -1;
        p->core->procfs_root = strdup(procfs_root ?: "/proc");
        p->core->uri = strdup(uri);
        if (!p->core->procfs_root || !p->core->uri)
                goto fail;
        p->core->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->core->event_fd < 0) {
                r = -errno;
                goto fail;
        }
        p->watch = event_loop_add_io(p->core->event_fd, on_finished, p);
        if (p->watch < 0) {
                r = p->watch;
                goto fail;
        }
        *ret = p;
        return 0;
fail:
        free(c);
        domain_prober_free(p);
        return r;
}

void domain_prober_free(struct domain_prober *p)
{
        if (!p)
                return;
        if (p->watch >= 0)
                event_loop_remove_io(p->watch);
        while (p->n_jobs > 0)
                under_way_remove(p, &p->jobs[0]);
        if (p->core)
                core_unref(p->core);
        free(p);
}

int domain_prober_start(struct domain_prober *p, virDomainPtr dom, const char *name, const char *uuid,
                        int timeout_ms)
{
        struct probe_job *j;
        struct under_way *u;
        pthread_attr_t attr;
        pthread_t thread;
        int r;

        if (find(p, uuid))
                return -EALREADY;
        if (p->n_jobs >= DOMAIN_PROBES_MAX)
                return -EBUSY;
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        *j = (struct probe_job){.core = p->core, .timeout_ms = timeout_ms};
        j->probe.name = strdup(name);
        j->probe.uuid = strdup(uuid);
        u = &p->jobs[p->n_jobs];
        *u = (struct under_way){
                .uuid = strdup(uuid),
                .name = strdup(name),
                .started_ns = daemon_now_ns(),
                .budget_ns = (uint64_t)timeout_ms * 1000000,
        };
        if (!j->probe.name || !j->probe.uuid || !u->uuid || !u->name) {
                free(u->uuid);
                free(u->name);
                job_free(j);
                return -ENOMEM;
        }
        if (virDomainRef(dom) < 0) {
                free(u->uuid);
                free(u->name);
                job_free(j);
                return libvirt_last_error(NULL);
        }
        j->probe.dom = dom;
        pthread_mutex_lock(&p->core->lock);
        p->core->refs++;
        pthread_mutex_unlock(&p->core->lock);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = -pthread_create(&thread, &attr, worker, j);
        pthread_attr_destroy(&attr);
        if (r < 0) {
                free(u->uuid);
                free(u->name);
                job_free(j);
                core_unref(p->core); /* not the last: the loop holds one */
                return r;
        }
        p->n_jobs++;
        return 0;
}

void domain_prober_forget(struct domain_prober *p, const char *uuid)
{
        struct under_way *u = find(p, uuid);

        if (u)
                u->stale = true;
}

void domain_prober_forget_all(struct domain_prober *p)
{
        for (unsigned i = 0; i < p->n_jobs; i++)
                p->jobs[i].stale = true;
}

void domain_prober_report_overdue(struct domain_prober *p, uint64_t now_ns)
{
        for (unsigned i = 0; i < p->n_jobs; i++) {
                struct under_way *u = &p->jobs[i];

                if (u->reported || u->stale || now_ns - u->started_ns < 2 * u->budget_ns)
                        continue;
                u->reported = true;
                log_vm(LOG_WARNING, u->name,
                       "Domain %s: its QEMU has not answered libvirt's monitor in %" PRIu64
                       " s; not managed until it does (the other VMs are not held up).",
                       u->name, (now_ns - u->started_ns) / 1000000000);
        }
}
