/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/daemon/vm-manager.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm-identity.h"
#include "vnuma/basic/error-message.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/pidfd-util.h"
#include "vnuma/basic/string-sanitize.h"
#include "vnuma/qemu/guest-query.h"
#include "vnuma/qmp/qmp-unix.h"
#include "vnuma/qmp/qmp.h"

void vm_manager_init(struct vm_manager *m, const char *procfs_root, int qmp_timeout_ms)
{
        *m = (struct vm_manager){
                .procfs_root = procfs_root ?: "/proc",
                .qmp_timeout_ms = qmp_timeout_ms,
                .next_id = 1,
        };
}

static void managed_vm_free(struct managed_vm *vm)
{
        if (!vm)
                return;
        free(vm->name);
        free(vm->qemu_name);
        free(vm->qmp_path);
        closep(&vm->pidfd);
        free(vm->uuid);
        free(vm->libvirt_mems);
        if (vm->dom)
                virDomainFree(vm->dom);
        guest_model_free(vm->model);
        free(vm->policy_source);
        free(vm->policy_error);
        free(vm);
}

void vm_manager_done(struct vm_manager *m)
{
        for (size_t i = 0; i < m->n_vms; i++)
                managed_vm_free(m->vms[i]);
        free(m->vms);
        m->vms = NULL;
        m->n_vms = 0;
}

/* starttime, field 22 of /proc/PID/stat, counted after the comm's closing parenthesis. */
static int read_start_time(const char *procfs_root, pid_t pid, uint64_t *ret)
{
        _cleanup_free_ char *stat = NULL;
        char path[64];
        const char *p;
        int r;

        snprintf(path, sizeof(path), "/%d/stat", (int)pid);
        r = read_full_file_at(procfs_root, path, 1 << 16, &stat, NULL);
        if (r < 0)
                return r;
        p = strrchr(stat, ')');
        if (!p)
                return -EBADMSG;
        for (int field = 2; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EBADMSG;
        }
        if (sscanf(p + 1, "%" SCNu64, ret) != 1)
                return -EBADMSG;
        return 0;
}

#define fail error_message

int vm_manager_add_model(struct vm_manager *m, const char *name, const char *qmp_path, pid_t pid,
                         struct guest_model **model, struct managed_vm **ret, char **ret_error)
{
        struct guest_model *g = *model;
        const char *label = qmp_path ?: name ?: "?";
        _cleanup_close_ int pidfd = -1;
        _cleanup_free_ char *qemu_name = NULL, *own_name = NULL;
        struct managed_vm *vm, **vms;
        uint64_t start_time;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!name)
                return -EINVAL;
        /* The threads QEMU named decide g->pid; the kernel or libvirt decide pid. */
        if (g->pid != pid)
                return fail(ret_error, -EPERM,
                            "QEMU's vCPU threads belong to pid %d, not to pid %d that serves it",
                            (int)g->pid, (int)pid);
        for (size_t i = 0; i < m->n_vms; i++) {
                if (m->vms[i]->model->pid == g->pid) {
                        if (ret)
                                *ret = m->vms[i];
                        return fail(ret_error, -EEXIST, "%s: QEMU pid %d is already managed as %s", label,
                                    (int)g->pid, m->vms[i]->name);
                }
                if (streq(m->vms[i]->name, name))
                        return fail(ret_error, -ENOTUNIQ, "the name %s is already used by %s", name,
                                    m->vms[i]->qmp_path ?: "a libvirt domain");
        }
        /* The pidfd first, then the start time, then the pidfd again: the start time read is the
         * pidfd's process, so a later start-time check cannot be answered by a reused pid. */
        r = pidfd_open_pid(pid, &pidfd);
        if (r < 0)
                return fail(ret_error, r, "%s: cannot hold QEMU pid %d (pidfd_open): %s", label, (int)pid,
                            strerror(-r));
        r = read_start_time(m->procfs_root, pid, &start_time);
        if (r < 0)
                return fail(ret_error, r, "/proc/%d/stat: %s", (int)pid, strerror(-r));
        r = pidfd_check_alive(pidfd);
        if (r < 0)
                return fail(ret_error, r, "%s: QEMU pid %d exited", label, (int)pid);

        /* QEMU's -name is shown, never used to select anything. */
        if (g->name && string_sanitize(g->name, DISPLAY_NAME_MAX, &qemu_name) < 0)
                return -ENOMEM;
        own_name = strdup(name);
        vm = calloc(1, sizeof(*vm));
        vms = realloc(m->vms, (m->n_vms + 1) * sizeof(*vms));
        if (vms)
                m->vms = vms;
        if (!vm || !vms || !own_name) {
                free(vm);
                return -ENOMEM;
        }
        vm->pidfd = -1;
        vm->name = strdup(name);
        vm->qmp_path = qmp_path ? strdup(qmp_path) : NULL;
        if (!vm->name || (qmp_path && !vm->qmp_path)) {
                managed_vm_free(vm);
                return -ENOMEM;
        }
        free(g->name);
        g->name = TAKE_PTR(own_name); /* what show and the snapshot print as the domain */
        vm->qemu_name = TAKE_PTR(qemu_name);
        vm->pidfd = TAKE_FD(pidfd);
        vm->id = m->next_id++;
        vm->start_time = start_time;
        vm_policy_init(&vm->policy);
        vm->model = TAKE_PTR(*model);
        m->vms[m->n_vms++] = vm;
        if (ret)
                *ret = vm;
        return 0;
}

void qmp_probe_done(struct qmp_probe *p)
{
        if (!p)
                return;
        free(p->path);
        free(p->name);
        guest_model_free(p->model);
        free(p->error);
        *p = (struct qmp_probe){};
}

/* Thread-safe: touches nothing but its arguments, the socket and procfs. */
static int probe(const char *procfs_root, int timeout_ms, struct qmp_probe *p)
{
        _cleanup_(qmp_client_freep) struct qmp_client *qmp = NULL;
        _cleanup_free_ char *error = NULL;
        const char *path = p->path;
        int r;

        r = vm_identity_from_socket(path, &p->name);
        if (r < 0)
                return fail(&p->error, r, "%s: no VM name in the socket's file name", path);
        r = qmp_client_connect_unix_peer(path, timeout_ms, &qmp, &p->pid, &error);
        if (error)
                return fail(&p->error, r, "%s: refused: %s", path, error);
        if (r == -EPROTO || r == -EBADMSG)
                return fail(&p->error, r, "%s: the peer does not speak QMP", path);
        if (r < 0)
                return fail(&p->error, r, "%s: cannot connect to QMP: %s", path, strerror(-r));
        /* Before anything of that process is read: its vCPU threads are the socket server's.
         * That round trip and the guest query share one time budget. */
        qmp_client_set_budget(qmp, timeout_ms);
        r = vm_identity_check_threads(qmp, procfs_root, p->pid, &error);
        if (r == -EPERM)
                return fail(&p->error, r, "%s: refused: %s", path, error);
        if (r < 0)
                return fail(&p->error, r, "%s: %s", path, error ?: strerror(-r));
        r = guest_model_query(qmp, procfs_root, &p->model, (free(error), &error));
        if (r < 0)
                return fail(&p->error, r, "%s: %s", path, error ?: strerror(-r));
        /* Short-lived: the monitor goes back to other tools when qmp is freed. */
        return 0;
}

int qmp_probe_run(const char *procfs_root, int timeout_ms, const char *qmp_path, struct qmp_probe *ret)
{
        *ret = (struct qmp_probe){.path = strdup(qmp_path)};
        if (!ret->path)
                return ret->r = -ENOMEM;
        return ret->r = probe(procfs_root ?: "/proc", timeout_ms, ret);
}

int vm_manager_add_probed(struct vm_manager *m, struct qmp_probe *p, struct managed_vm **ret,
                          char **ret_error)
{
        _cleanup_free_ char *error = NULL;
        int r;

        if (ret_error)
                *ret_error = NULL;
        for (size_t i = 0; i < m->n_vms; i++)
                if (streq_ptr(m->vms[i]->qmp_path, p->path))
                        return -EEXIST;
        if (p->r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(p->error);
                return p->r;
        }
        r = vm_manager_add_model(m, p->name, p->path, p->pid, &p->model, ret, &error);
        if (r == -EPERM || r == -ENOTUNIQ)
                return fail(ret_error, r, "%s: refused: %s", p->path, error);
        if (r < 0 && ret_error)
                *ret_error = TAKE_PTR(error);
        return r;
}

void vm_manager_remove(struct vm_manager *m, uint64_t id)
{
        for (size_t i = 0; i < m->n_vms; i++)
                if (m->vms[i]->id == id) {
                        managed_vm_free(m->vms[i]);
                        memmove(&m->vms[i], &m->vms[i + 1], (m->n_vms - i - 1) * sizeof(*m->vms));
                        m->n_vms--;
                        return;
                }
}

struct managed_vm *vm_manager_find(const struct vm_manager *m, uint64_t id)
{
        for (size_t i = 0; i < m->n_vms; i++)
                if (m->vms[i]->id == id)
                        return m->vms[i];
        return NULL;
}

struct managed_vm *vm_manager_lookup(const struct vm_manager *m, const char *name_or_path)
{
        for (size_t i = 0; i < m->n_vms; i++)
                if (streq(m->vms[i]->name, name_or_path) || streq_ptr(m->vms[i]->qmp_path, name_or_path) ||
                    streq_ptr(m->vms[i]->uuid, name_or_path))
                        return m->vms[i];
        return NULL;
}

struct managed_vm *vm_manager_find_uuid(const struct vm_manager *m, const char *uuid)
{
        for (size_t i = 0; i < m->n_vms; i++)
                if (streq_ptr(m->vms[i]->uuid, uuid))
                        return m->vms[i];
        return NULL;
}

int managed_vm_check(const struct managed_vm *vm, const char *procfs_root)
{
        uint64_t start_time;

        if (pidfd_check_alive(vm->pidfd) < 0)
                return -ESRCH;
        /* A second witness, should the pidfd ever be unavailable (fd exhaustion at add time is
         * refused, so this is belt and braces). */
        if (read_start_time(procfs_root ?: "/proc", vm->model->pid, &start_time) < 0 ||
            start_time != vm->start_time)
                return -ESRCH;
        return 0;
}

bool managed_vm_alive(const struct managed_vm *vm, const char *procfs_root)
{
        return managed_vm_check(vm, procfs_root) == 0;
}

void managed_vm_record(struct managed_vm *vm, uint64_t period, double locality, uint64_t bytes_migrated)
{
        vm->timeline[vm->timeline_head] = (struct timeline_point){period, locality, bytes_migrated};
        vm->timeline_head = (vm->timeline_head + 1) % VM_TIMELINE_LEN;
        if (vm->timeline_n < VM_TIMELINE_LEN)
                vm->timeline_n++;
        vm->bytes_migrated += bytes_migrated;
}

unsigned managed_vm_timeline(const struct managed_vm *vm, struct timeline_point *out, unsigned n)
{
        unsigned count = MIN(n, vm->timeline_n);
        unsigned first = (vm->timeline_head + VM_TIMELINE_LEN - vm->timeline_n) % VM_TIMELINE_LEN;

        /* The newest `count` points, oldest first. */
        first = (first + vm->timeline_n - count) % VM_TIMELINE_LEN;
        for (unsigned i = 0; i < count; i++)
                out[i] = vm->timeline[(first + i) % VM_TIMELINE_LEN];
        return count;
}
