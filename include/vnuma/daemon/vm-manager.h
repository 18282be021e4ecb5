/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The VMs vnumad manages: where each came from (a QMP socket), its guest model, its policy,
 * and a short locality timeline. The daemon adds VMs as their sockets appear and drops them
 * when their QEMU exits. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>

#include "vnuma/model/guest.h"
#include "vnuma/model/policy-mode.h"

#define VM_TIMELINE_LEN 120

struct timeline_point {
        uint64_t period;
        double locality; /* < 0: undefined (nothing present) */
        uint64_t bytes_migrated;
};

/* What became of the bytes a migration asked for (move_pages' per-page answers). */
enum vm_migration_result {
        VM_MIGRATION_MOVED,
        VM_MIGRATION_ALREADY_THERE,
        VM_MIGRATION_BUSY,
        VM_MIGRATION_NO_MEMORY,
        VM_MIGRATION_ABSENT,
        VM_MIGRATION_SHARED, /* left by MPOL_MF_MOVE: mapped by another process too */
        VM_MIGRATION_FAILED, /* also an action that failed as a whole */
        _VM_MIGRATION_RESULT_MAX,
};

struct managed_vm {
        uint64_t id;
        /* Who the VM is: the QMP socket's file name or the libvirt domain name, never what QEMU
         * says (vm-identity.h). Selects [vm NAME], names metrics, logs and the cgroup leaf. */
        char *name;
        char *qemu_name; /* QEMU's -name: display only, sanitised and cut; NULL without -name */
        char *qmp_path;  /* NULL for a libvirt domain */
        int pidfd;       /* the QEMU process, checked before every action */
        /* libvirt domains only: the domain (a reference on the current connection, NULL while
         * disconnected) and its UUID, which stays the same across reconnects. */
        virDomainPtr dom;
        char *uuid;
        char *libvirt_mems;      /* the nodeset last asked of libvirt's live numatune */
        int libvirt_mems_result; /* and libvirt's answer, 0 or -errno */
        struct guest_model *model;
        uint64_t start_time; /* /proc/PID/stat starttime: tells a reused pid apart */
        struct vm_policy policy;
        char *policy_source; /* "config [vm NAME]", "config [policy]", "metadata" */
        char *policy_error;  /* invalid policy: the VM is observed, never changed */
        uint64_t added_period;
        uint64_t bytes_migrated;        /* total, as the actuator reported it */
        uint64_t period_bytes_migrated; /* this period so far */
        /* Totals of what migrations asked to move, by result. */
        uint64_t migration_bytes[_VM_MIGRATION_RESULT_MAX];
        unsigned timeline_n, timeline_head;
        struct timeline_point timeline[VM_TIMELINE_LEN];
};

struct vm_manager {
        const char *procfs_root;
        int qmp_timeout_ms;
        uint64_t next_id;
        size_t n_vms;
        struct managed_vm **vms;
};

void vm_manager_init(struct vm_manager *m, const char *procfs_root, int qmp_timeout_ms);
void vm_manager_done(struct vm_manager *m);

/* What learning one plain-QEMU socket found: the VM's name (from the socket's file name), the
 * QEMU serving it (SO_PEERCRED) and the guest model, or r < 0 and error naming the socket and the
 * problem. */
struct qmp_probe {
        char *path;
        char *name;
        pid_t pid;
        struct guest_model *model;
        char *error;
        int r;
};

/* Checks the socket path, connects to it briefly (QEMU serves one client at a time), checks that
 * the vCPU threads QEMU names belong to the process serving the socket and learns the guest
 * model, within timeout_ms in all. Thread-safe (it touches only its arguments, the socket and
 * procfs), so it can run off the event loop. -EPERM (or -ELOOP, -ENOTSOCK) when the socket or its
 * QEMU is refused. Returns ret->r; call qmp_probe_done() on ret in any case. */
int qmp_probe_run(const char *procfs_root, int timeout_ms, const char *qmp_path, struct qmp_probe *ret);
void qmp_probe_done(struct qmp_probe *p);
/* Adds the VM a probe learned (taking its model), or returns its failure. -EEXIST if that socket
 * is already managed, or its QEMU is (then *ret is that VM). On failure *ret_error names the
 * socket and the problem. */
int vm_manager_add_probed(struct vm_manager *m, struct qmp_probe *p, struct managed_vm **ret,
                          char **ret_error);
/* Adds a VM whose model was already learned (over any QMP transport). Takes the model on success.
 * name is the VM's identity (vm-identity.h); qmp_path may be NULL. pid is the QEMU process as the
 * kernel or libvirt names it: -EPERM if the model's vCPU threads belong to another process.
 * -EEXIST (with *ret_error, and *ret set to the VM that has it) if that QEMU pid is already
 * managed; -ENOTUNIQ if another VM has that name. */
int vm_manager_add_model(struct vm_manager *m, const char *name, const char *qmp_path, pid_t pid,
                         struct guest_model **model, struct managed_vm **ret, char **ret_error);
/* By libvirt UUID. */
struct managed_vm *vm_manager_find_uuid(const struct vm_manager *m, const char *uuid);
void vm_manager_remove(struct vm_manager *m, uint64_t id);
struct managed_vm *vm_manager_find(const struct vm_manager *m, uint64_t id);
/* By VM name, or by QMP socket path. */
struct managed_vm *vm_manager_lookup(const struct vm_manager *m, const char *name_or_path);
/* False once the QEMU process is gone (or its pid was reused): asked through the VM's pidfd, and
 * the pid's start time is compared with the one seen when the VM was added. */
bool managed_vm_alive(const struct managed_vm *vm, const char *procfs_root);
/* 0 if the VM's QEMU still runs, -ESRCH if not: checked right before every action on its pid. */
int managed_vm_check(const struct managed_vm *vm, const char *procfs_root);

/* Closes a period of the VM's timeline; adds bytes_migrated to its total. */
void managed_vm_record(struct managed_vm *vm, uint64_t period, double locality, uint64_t bytes_migrated);
/* Timeline points oldest first: fills at most n, returns how many. */
unsigned managed_vm_timeline(const struct managed_vm *vm, struct timeline_point *out, unsigned n);
