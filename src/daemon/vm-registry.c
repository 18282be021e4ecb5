/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The managed VMs: the QMP sockets that failed (retried later), discovery of plain-QEMU sockets,
 * and dropping a VM whose QEMU is gone. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
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

static void try_add(struct daemon *d, const char *path)
{
        _cleanup_free_ char *error = NULL;
        struct managed_vm *vm;
        int r;

        if (vm_manager_lookup(&d->vms, path) || daemon_failed_recently(d, path))
                return;
        vm = NULL;
        r = vm_manager_add_qmp(&d->vms, path, &vm, &error);
        if (r == -EEXIST) {
                /* Its QEMU is managed already (through libvirt, or another socket): not asked
                 * again while that VM is. */
                if (error)
                        log_debug("%s", error);
                daemon_note_owned(d, path, vm ? vm->id : 0);
                return;
        }
        if (r < 0) {
                /* Logged once; a retry every QMP_RETRY_PERIODS that fails the same way is debug. */
                if (daemon_note_failure(d, path, error))
                        log_warning("%s (retrying in %d periods)", error ?: strerror(-r), QMP_RETRY_PERIODS);
                else
                        log_debug("%s (again)", error ?: strerror(-r));
                return;
        }
        daemon_forget_failure(d, path);
        vm->added_period = d->period;
        daemon_update_policy(d, vm);
        log_vm(LOG_INFO, vm->name,
               "Managing VM %s (QEMU pid %d%s%s, %u cells, %u vCPUs) from %s, policy %s.", vm->name,
               (int)vm->model->pid, vm->qemu_name ? ", -name " : "", strempty(vm->qemu_name),
               vm->model->n_cells, vm->model->n_vcpus, path, vm_policy_mode_to_string(vm->policy.mode));
}

static bool socket_name(const char *name)
{
        size_t n = strlen(name);
        return (n > 5 && streq(name + n - 5, ".sock")) || (n > 4 && streq(name + n - 4, ".qmp"));
}

void daemon_discover_qmp(struct daemon *d)
{
        for (unsigned i = 0; i < d->config->n_qmp_sockets; i++)
                try_add(d, d->config->qmp_sockets[i]);
        if (d->config->qmp_dir) {
                DIR *dir = opendir(d->config->qmp_dir);
                struct dirent *de;

                if (!dir)
                        return;
                while ((de = readdir(dir))) {
                        _cleanup_free_ char *path = NULL;
                        if (!socket_name(de->d_name) ||
                            asprintf(&path, "%s/%s", d->config->qmp_dir, de->d_name) < 0)
                                continue;
                        try_add(d, path);
                }
                closedir(dir);
        }
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
