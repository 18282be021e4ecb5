/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Learning libvirt domains off the event loop (domain-prober.c). vnumad queries a domain's QEMU
 * through libvirt's monitor (virDomainQemuMonitorCommand), which has no time limit: a QEMU that
 * never answers blocks the caller for as long as it lives. So each domain is learned on a thread
 * and a libvirt connection of its own, and its result comes back on the event loop; a domain whose
 * QEMU stays silent holds one thread and one connection, and nothing else. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>

/* At most this many domains are being learned at once; more wait for the next discovery. */
#define DOMAIN_PROBES_MAX 16

struct guest_model;

struct domain_probe {
        virDomainPtr dom; /* on the caller's connection: a reference of the probe's own */
        char *name;
        char *uuid;
        char *identity; /* vm_identity_from_domain */
        pid_t pid;      /* libvirt's word for the QEMU process */
        struct guest_model *model;
        char *error;
        int r;
        bool refused; /* the QEMU named threads that are not its own */
};

void domain_probe_done(struct domain_probe *p);

struct domain_prober;

/* Called on the event loop for each finished probe; the callee may take what it wants out of it
 * (the prober frees the rest). stale: the domain went away or changed while it was learned. */
typedef void (*domain_prober_done_cb)(struct domain_probe *p, bool stale, void *userdata);

/* uri: the libvirt each probe opens a connection of its own to. */
int domain_prober_new(const char *procfs_root, const char *uri, domain_prober_done_cb done, void *userdata,
                      struct domain_prober **ret);
/* Does not wait for threads whose QEMU is still silent: they end with the process. */
void domain_prober_free(struct domain_prober *p);
/* -EALREADY while the domain is being learned, -EBUSY with DOMAIN_PROBES_MAX under way. The
 * probe holds its own reference on dom. */
int domain_prober_start(struct domain_prober *p, virDomainPtr dom, const char *name, const char *uuid,
                        int timeout_ms);
/* The domain's probe under way, if any, is stale: its result is handed over as such. */
void domain_prober_forget(struct domain_prober *p, const char *uuid);
void domain_prober_forget_all(struct domain_prober *p);
/* Logs, once per probe, each domain whose QEMU has not answered within twice its time budget. */
void domain_prober_report_overdue(struct domain_prober *p, uint64_t now_ns);
