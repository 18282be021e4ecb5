/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The managed VMs: the QMP sockets that failed (retried later), discovery of plain-QEMU sockets,
 * and dropping a VM whose QEMU is gone. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "qmp-prober.h"
#include "vnuma/basic/log.h"

bool daemon_failed_recently(struct daemon *d, const char *path)
{
        for (unsigned i = 0; i < d->n_failures; i++)
                if (streq(d->failures[i].path, path)) {
                        if (d->failures[i].owner && vm_manager_find(&d->vms, d->failures[i].owner))
                                return true;
                        return d->period < d->failures[i].retry_period;
                }
        return false;
}

void daemon_note_owned(struct daemon *d, const char *path, uint64_t owner)
{
        struct qmp_failure *n;

        for (unsigned i = 0; i < d->n_failures; i++)
                if (streq(d->failures[i].path, path)) {
                        d->failures[i].retry_period = d->period + QMP_RETRY_PERIODS;
                        d->failures[i].owner = owner;
                        return;
                }
        n = realloc(d->failures, (d->n_failures + 1) * sizeof(*n));
        if (!n)
                return;
        d->failures = n;
        n[d->n_failures] = (struct qmp_failure){
                .path = strdup(path),
                .retry_period = d->period + QMP_RETRY_PERIODS,
                .owner = owner,
        };
        if (n[d->n_failures].path)
                d->n_failures++;
}

bool daemon_note_failure(struct daemon *d, const char *path, const char *error)
{
        daemon_note_owned(d, path, 0);
        for (unsigned i = 0; i < d->n_failures; i++)
                if (streq(d->failures[i].path, path)) {
                        if (streq_ptr(d->failures[i].error, error))
                                return false;
                        free(d->failures[i].error);
                        d->failures[i].error = error ? strdup(error) : NULL;
                        return true;
                }
        return true;
}

void daemon_forget_failure(struct daemon *d, const char *path)
{
        for (unsigned i = 0; i < d->n_failures; i++)
                if (streq(d->failures[i].path, path)) {
                        free(d->failures[i].path);
                        free(d->failures[i].error);
                        d->failures[i] = d->failures[--d->n_failures];
                        return;
                }
}

/* On the event loop, once the prober has learned a socket. */
static void add_probed(struct daemon *d, struct qmp_probe *p)
{
        _cleanup_free_ char *error = NULL;
        struct managed_vm *vm = NULL;
        int r;

        if (p->r == -ECANCELED)
                return;
        r = vm_manager_add_probed(&d->vms, p, &vm, &error);
        if (r == -EEXIST) {
                /* Its QEMU is managed already (through libvirt, or another socket): not asked
                 * again while that VM is. */
                if (error)
                        log_debug("%s", error);
                daemon_note_owned(d, p->path, vm ? vm->id : 0);
                return;
        }
        if (r < 0) {
                /* Logged once; a retry every QMP_RETRY_PERIODS that fails the same way is debug. */
                if (daemon_note_failure(d, p->path, error))
                        log_warning("%s (retrying in %d periods)", error ?: strerror(-r), QMP_RETRY_PERIODS);
                else
                        log_debug("%s (again)", error ?: strerror(-r));
                return;
        }
        daemon_forget_failure(d, p->path);
        vm->added_period = d->period;
        daemon_update_policy(d, vm);
        log_vm(LOG_INFO, vm->name,
               "Managing VM %s (QEMU pid %d%s%s, %u cells, %u vCPUs) from %s, policy %s.", vm->name,
               (int)vm->model->pid, vm->qemu_name ? ", -name " : "", strempty(vm->qemu_name),
               vm->model->n_cells, vm->model->n_vcpus, p->path, vm_policy_mode_to_string(vm->policy.mode));
}

void daemon_on_probed(struct qmp_probe *probes, size_t n, void *userdata)
{
        struct daemon *d = userdata;

        for (size_t i = 0; i < n; i++)
                add_probed(d, &probes[i]);
}

static bool socket_name(const char *name)
{
        size_t n = strlen(name);
        return (n > 5 && streq(name + n - 5, ".sock")) || (n > 4 && streq(name + n - 4, ".qmp"));
}

/* Takes path: appended when it is neither managed nor failed recently. */
static int want(struct daemon *d, char ***paths, size_t *n, char *path)
{
        char **a;

        if (!path)
                return -ENOMEM;
        if (vm_manager_lookup(&d->vms, path) || daemon_failed_recently(d, path) ||
            *n >= QMP_PROBE_BATCH_MAX) {
                free(path);
                return 0;
        }
        a = realloc(*paths, (*n + 1) * sizeof(*a));
        if (!a) {
                free(path);
                return -ENOMEM;
        }
        a[(*n)++] = path;
        *paths = a;
        return 0;
}

bool daemon_discover_qmp(struct daemon *d)
{
        char **paths = NULL;
        size_t n = 0;
        int r = 0;

        if (qmp_prober_busy(d->prober))
                return false;
        for (unsigned i = 0; i < d->config->n_qmp_sockets && r >= 0; i++)
                r = want(d, &paths, &n, strdup(d->config->qmp_sockets[i]));
        if (d->config->qmp_dir && r >= 0) {
                DIR *dir = opendir(d->config->qmp_dir);
                struct dirent *de;

                while (dir && r >= 0 && (de = readdir(dir))) {
                        char *path;
                        if (!socket_name(de->d_name))
                                continue;
                        r = asprintf(&path, "%s/%s", d->config->qmp_dir, de->d_name) < 0 ? -ENOMEM : 0;
                        if (r >= 0)
                                r = want(d, &paths, &n, path);
                }
                if (dir)
                        closedir(dir);
        }
        if (r >= 0)
                r = qmp_prober_start(d->prober, paths, n, d->vms.qmp_timeout_ms);
        else {
                for (size_t i = 0; i < n; i++)
                        free(paths[i]);
                free(paths);
        }
        if (r < 0)
                log_warning_errno(r, "Cannot look for QEMU sockets: %m");
        return true;
}

void daemon_drop_vm(struct daemon *d, struct managed_vm *vm)
{
        sampler_forget_vm(d->sampler, vm->id);
        (void)actuator_forget_vm(d->actuator, vm->id);
        vm_manager_remove(&d->vms, vm->id);
}

void daemon_reap(struct daemon *d)
{
        for (size_t i = 0; i < d->vms.n_vms;) {
                struct managed_vm *vm = d->vms.vms[i];

                if (managed_vm_alive(vm, d->vms.procfs_root)) {
                        i++;
                        continue;
                }
                log_vm(LOG_NOTICE, vm->name, "VM %s: QEMU pid %d is gone; no longer managed.", vm->name,
                       (int)vm->model->pid);
                daemon_drop_vm(d, vm);
        }
}
