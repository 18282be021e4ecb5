/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A managed VM's policy and where it comes from: a libvirt domain's <vnumad:policy> metadata or
 * its XML pins, else the config's [vm NAME] or [policy]. A changed policy starts the VM's
 * placement state over. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "vnuma/basic/log.h"
#include "vnuma/libvirt/libvirt-error.h"
#include "vnuma/libvirt/libvirt-policy.h"

static void host_node_ids(const struct host_topology *t, struct idset *ret)
{
        *ret = IDSET_EMPTY;
        for (unsigned i = 0; i < t->n_nodes; i++)
                idset_add(ret, t->nodes[i].id);
}

/* A domain started with <numatune><memory placement='auto'/>: libvirt took its nodeset from
 * numad -w (vnumad's advise, when the shim stands in for numad) and bound the memory there. Mode
 * auto starts from that home instead of planning one of its own, unless the metadata names nodes. */
static void seed_start_nodes(struct managed_vm *vm)
{
        _cleanup_free_ char *xml = NULL;
        struct idset set;
        char buf[128];

        vm->policy.start_nodes = IDSET_EMPTY;
        if (vm->policy.mode != VM_POLICY_AUTO || !idset_is_empty(&vm->policy.nodes) ||
            vm->policy.n_cell_nodes)
                return;
        xml = virDomainGetXMLDesc(vm->dom, 0);
        if (!xml) {
                (void)libvirt_last_error(NULL);
                return;
        }
        if (libvirt_xml_auto_placement(xml) <= 0 || libvirt_domain_numa_nodeset(vm->dom, &set) < 0 ||
            idset_is_empty(&set))
                return;
        vm->policy.start_nodes = set;
        if (idset_format(&set, buf, sizeof(buf)) >= 0)
                log_info("VM %s: started with placement='auto' on nodes %s; that is its first home.",
                         vm->name, buf);
}

void daemon_libvirt_resolve_policy(struct daemon *d, struct managed_vm *vm)
{
        _cleanup_free_ char *error = NULL;
        struct vm_metadata_limits limits = {.guest_cells = (int)vm->model->n_cells};
        enum libvirt_policy_source source;
        struct vm_policy p;
        struct idset nodes;
        int r;

        if (!vm->dom)
                return; /* disconnected: keep what we have until the domain is seen again */
        host_node_ids(d->topo, &nodes);
        limits.host_nodes = &nodes;
        r = libvirt_policy_resolve(vm->dom, &limits, &p, &source, &error);
        if (r == -EINVAL) {
                /* Logged once per distinct problem; the VM keeps its pins and pages as they are. */
                if (!streq_ptr(error, vm->policy_error))
                        log_vm(LOG_ERR, vm->name,
                               "VM %s: invalid <vnumad:policy> metadata: %s; the VM is observed only, "
                               "nothing is changed.",
                               vm->name, strna(error));
                /* The effective policy is observe, and status says so next to the error. */
                vm_policy_init(&p);
                p.mode = VM_POLICY_OBSERVE;
                daemon_set_vm_policy(d, vm, &p, "metadata", error ?: "invalid metadata");
                return;
        }
        if (r < 0) {
                log_vm(LOG_WARNING, vm->name,
                       "VM %s: cannot read its policy from libvirt (%s); keeping the current one.", vm->name,
                       error ?: strerror(-r));
                return;
        }
        switch (source) {
        case LIBVIRT_POLICY_METADATA:
                daemon_set_vm_policy(d, vm, &p, "metadata", NULL);
                break;
        case LIBVIRT_POLICY_XML_PINS:
                daemon_set_vm_policy(d, vm, &p, "libvirt XML pins", NULL);
                break;
        default:
                daemon_config_policy(d, vm);
                break;
        }
        seed_start_nodes(vm);
}

void daemon_set_vm_policy(struct daemon *d, struct managed_vm *vm, const struct vm_policy *p,
                          const char *source, const char *error)
{
        bool changed = !vm_policy_equal(&vm->policy, p) || !streq_ptr(vm->policy_error, error);
        char *s = strdup(source), *e = error ? strdup(error) : NULL;

        d->policy_changes++; /* a cached show names the policy */

        if (!s || (error && !e)) {
                free(s);
                free(e);
                return; /* out of memory: keep the current policy */
        }
        if (changed && vm->policy_source) {
                uint64_t old = vm->id;

                /* The brain's memory of this VM (homes, a region policy sent) belongs to the old
                 * policy: start over under a new id. Pins and pages stay where they are. */
                sampler_forget_vm(d->sampler, old);
                (void)actuator_forget_vm(d->actuator, old);
                vm->id = d->vms.next_id++;
                if (!e)
                        log_vm(LOG_INFO, vm->name, "VM %s: policy now %s from %s.", vm->name,
                               vm_policy_mode_to_string(p->mode), s);
                free(vm->libvirt_mems);
                vm->libvirt_mems = NULL;
        }
        vm->policy = *p;
        free(vm->policy_source);
        vm->policy_source = s;
        free(vm->policy_error);
        vm->policy_error = e;
}

void daemon_update_policy(struct daemon *d, struct managed_vm *vm)
{
        /* A libvirt domain's metadata or XML pins come before the config. While libvirtd is away
         * its policy stays as it was (the config is not its source). */
        if (vm->uuid)
                daemon_libvirt_resolve_policy(d, vm);
        else
                daemon_config_policy(d, vm);
}

void daemon_config_policy(struct daemon *d, struct managed_vm *vm)
{
        struct vm_policy p;
        bool from_section = false;
        char source[300];

        for (unsigned i = 0; i < d->config->n_vms; i++)
                from_section = from_section || streq(d->config->vms[i].name, vm->name);
        daemon_config_policy_for(d->config, vm->name, &p);
        if (from_section)
                snprintf(source, sizeof(source), "config [vm %s]", vm->name);
        else
                snprintf(source, sizeof(source), "config [policy]");
        daemon_set_vm_policy(d, vm, &p, source, NULL);
}
