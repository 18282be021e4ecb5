/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad beside libvirtd: every running domain is managed, learned through QMP over libvirt, with
 * its policy from the <vnumad:policy> metadata; pins go through libvirt so `virsh vcpupin` and
 * libvirt's cgroups agree with what vnumad did. Memory moves stay with move_pages(2) (libvirt has
 * no live per-cell memory API), done by the direct actuator on the QEMU process. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "daemon.h"
#include "domain-prober.h"
#include "vnuma/actuator/libvirt-actuator.h"
#include "vnuma/basic/log.h"
#include "vnuma/libvirt/libvirt-error.h"
#include "vnuma/libvirt/libvirt-policy.h"

static void record_event(struct daemon *d, const char *domain, const char *kind, const char *what)
{
        struct libvirt_event_record *e = &d->lv_events[d->lv_event_seq % LIBVIRT_EVENTS_KEPT];

        free(e->domain);
        *e = (struct libvirt_event_record){
                .seq = ++d->lv_event_seq,
                .time_ns = daemon_now_ns() - d->start_ns,
                .domain = domain ? strdup(domain) : NULL,
                .kind = kind,
                .what = what,
        };
}

static void failure_key(const char *uuid, char *buf, size_t size)
{
        snprintf(buf, size, "libvirt:%s", uuid);
}

/* Manages a running domain, or refreshes one already managed after a reconnect. Learning a new
 * one goes to the domain prober: its QEMU answers through libvirt's monitor, which has no time
 * limit, and the event loop must not wait for it. */
static void add_domain(struct daemon *d, virDomainPtr dom, const char *name, const char *uuid)
{
        struct managed_vm *vm = vm_manager_find_uuid(&d->vms, uuid);
        char key[64];
        int r;

        if (vm && managed_vm_alive(vm, d->vms.procfs_root)) {
                /* Same QEMU (a reconnect): only the domain handle and the policy are new. */
                if (vm->dom != dom) {
                        if (vm->dom)
                                virDomainFree(vm->dom);
                        vm->dom = virDomainRef(dom) == 0 ? dom : NULL;
                }
                daemon_libvirt_resolve_policy(d, vm);
                return;
        }
        if (vm) {
                log_vm(LOG_NOTICE, vm->name, "VM %s: QEMU pid %d is gone; learning the domain again.",
                       vm->name, (int)vm->model->pid);
                daemon_drop_vm(d, vm);
        }
        failure_key(uuid, key, sizeof(key));
        if (daemon_failed_recently(d, key))
                return;
        r = domain_prober_start(d->domain_prober, dom, name, uuid, d->vms.qmp_timeout_ms);
        if (r == -EALREADY)
                return;
        if (r == -EBUSY) {
                log_debug(
                        "Domain %s: %d domains are being learned already; it waits for the next discovery.",
                        name, DOMAIN_PROBES_MAX);
                d->libvirt_rescan = true;
        } else if (r < 0)
                log_vm(LOG_WARNING, name, "Domain %s: cannot start learning it: %s", name, strerror(-r));
}

/* On the event loop, once the domain prober has an answer. */
static void on_domain_probed(struct domain_probe *p, bool stale, void *userdata)
{
        struct daemon *d = userdata;
        struct managed_vm *vm = NULL;
        _cleanup_free_ char *error = NULL;
        bool refused = p->refused;
        char key[64];
        int r = p->r;

        if (stale) {
                /* Stopped, changed or the connection lost while it was learned: asked again. */
                d->libvirt_rescan = true;
                return;
        }
        failure_key(p->uuid, key, sizeof(key));
        if (r >= 0 && vm_manager_find_uuid(&d->vms, p->uuid))
                return; /* managed meanwhile (an event and a discovery raced) */
        if (r >= 0) {
                r = vm_manager_add_model(&d->vms, p->identity, NULL, p->pid, &p->model, &vm, &error);
                refused = r == -EPERM || r == -ENOTUNIQ;
        } else
                error = TAKE_PTR(p->error);
        if (r == -EEXIST) {
                log_vm(LOG_NOTICE, p->identity, "Domain %s: %s; not managed a second time through libvirt.",
                       p->name, strna(error));
                daemon_note_owned(d, key, vm ? vm->id : 0);
                return;
        }
        if (r < 0) {
                if (daemon_note_failure(d, key, error))
                        log_vm(LOG_WARNING, p->identity ?: p->name,
                               "Domain %s: %s: %s (retrying in %d periods)", p->name,
                               refused ? "refused" : "cannot learn its NUMA layout through libvirt",
                               error ?: strerror(-r), QMP_RETRY_PERIODS);
                return;
        }
        daemon_forget_failure(d, key);
        vm->uuid = TAKE_PTR(p->uuid);
        vm->dom = TAKE_PTR(p->dom);
        vm->added_period = d->period;
        daemon_libvirt_resolve_policy(d, vm);
        log_vm(LOG_INFO, vm->name,
               "Managing libvirt domain %s (QEMU pid %d, %u cells, %u vCPUs), policy %s from %s%s%s.",
               vm->name, (int)vm->model->pid, vm->model->n_cells, vm->model->n_vcpus,
               vm_policy_mode_to_string(vm->policy.mode), vm->policy_source,
               vm->policy_error ? ", invalid: " : "", strempty(vm->policy_error));
}

/* Whether the domain runs (or is paused) and is not an incoming migration still in progress:
 * its memory is being written by the migration stream, so placing it now is wasted work. */
static bool domain_ready(virDomainPtr dom)
{
        int state, reason;

        if (virDomainGetState(dom, &state, &reason, 0) < 0) {
                (void)libvirt_last_error(NULL);
                return false;
        }
        if (state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_MIGRATION)
                return false;
        return state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_BLOCKED;
}

void daemon_libvirt_discover(struct daemon *d)
{
        virConnectPtr conn = d->libvirt ? libvirt_conn_get(d->libvirt) : NULL;
        virDomainPtr *doms = NULL;
        int n;

        if (!conn)
                return;
        domain_prober_report_overdue(d->domain_prober, daemon_now_ns());
        d->libvirt_rescan = false;
        n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0) {
                _cleanup_free_ char *error = NULL;
                (void)libvirt_last_error(&error);
                log_warning("Cannot list libvirt domains: %s", strna(error));
                d->libvirt_rescan = true;
                return;
        }
        for (int i = 0; i < n; i++) {
                char uuid[VIR_UUID_STRING_BUFLEN];
                const char *name = virDomainGetName(doms[i]);
                struct managed_vm *vm;

                if (name && virDomainGetUUIDString(doms[i], uuid) == 0 && domain_ready(doms[i])) {
                        vm = vm_manager_find_uuid(&d->vms, uuid);
                        if (!vm || !vm->dom)
                                add_domain(d, doms[i], name, uuid);
                }
                virDomainFree(doms[i]);
        }
        free(doms);
}

static void on_connection(struct libvirt_conn *c, bool connected, const char *reason, void *userdata)
{
        struct daemon *d = userdata;

        /* The reason is borrowed; status shows it as last_error while disconnected. */
        record_event(d, NULL, connected ? "connected" : "disconnected", "");
        if (connected) {
                log_info("Connected to libvirt at %s (connection %u).",
                         d->config->libvirt_uri ?: LIBVIRT_URI_DEFAULT, libvirt_conn_generation(c));
                d->libvirt_rescan = true;
                return;
        }
        log_warning("Lost libvirt (%s); the domains keep being placed, pins wait for the reconnect.",
                    strna(reason));
        domain_prober_forget_all(d->domain_prober);
        /* The handles belong to the closed connection. */
        for (size_t i = 0; i < d->vms.n_vms; i++)
                if (d->vms.vms[i]->dom) {
                        virDomainFree(d->vms.vms[i]->dom);
                        d->vms.vms[i]->dom = NULL;
                }
}

static void on_domain_up(struct libvirt_conn *c, const struct libvirt_domain_ref *ref,
                         enum libvirt_up_reason why, void *userdata)
{
        struct daemon *d = userdata;

        record_event(d, ref->name, "up", libvirt_up_reason_to_string(why));
        log_debug("Domain %s: up (%s).", ref->name, libvirt_up_reason_to_string(why));
        if (why == LIBVIRT_UP_MIGRATED_IN || !domain_ready(ref->dom)) {
                /* Managed once it runs; the RESUMED event or the next discovery picks it up. */
                d->libvirt_rescan = true;
                return;
        }
        add_domain(d, ref->dom, ref->name, ref->uuid);
}

static void on_domain_down(struct libvirt_conn *c, const struct libvirt_domain_ref *ref,
                           enum libvirt_down_reason why, void *userdata)
{
        struct daemon *d = userdata;
        struct managed_vm *vm = vm_manager_find_uuid(&d->vms, ref->uuid);
        char key[64];

        record_event(d, ref->name, "down", libvirt_down_reason_to_string(why));
        domain_prober_forget(d->domain_prober, ref->uuid);
        failure_key(ref->uuid, key, sizeof(key));
        daemon_forget_failure(d, key);
        if (!vm)
                return;
        log_vm(LOG_INFO, vm->name, "Domain %s stopped (%s); no longer managed.", vm->name,
               libvirt_down_reason_to_string(why));
        daemon_drop_vm(d, vm);
}

static void on_domain_changed(struct libvirt_conn *c, const struct libvirt_domain_ref *ref,
                              enum libvirt_change what, const char *detail, void *userdata)
{
        struct daemon *d = userdata;
        struct managed_vm *vm = vm_manager_find_uuid(&d->vms, ref->uuid);

        record_event(d, ref->name, "changed", libvirt_change_to_string(what));
        log_debug("Domain %s: %s%s%s.", ref->name, libvirt_change_to_string(what), detail ? " " : "",
                  strempty(detail));
        switch (what) {
        case LIBVIRT_CHANGE_METADATA:
        case LIBVIRT_CHANGE_DEFINED: /* the persistent XML may now pin something, or not */
                if (vm)
                        daemon_libvirt_resolve_policy(d, vm);
                break;
        case LIBVIRT_CHANGE_TUNABLE:
                /* Our own pins raise "cputune.*" every time; the policy depends only on the
                 * persistent XML, which a DEFINED event announces. */
                if (vm && !startswith(strempty(detail), "cputune."))
                        daemon_libvirt_resolve_policy(d, vm);
                break;
        case LIBVIRT_CHANGE_DEVICE_ADDED:
        case LIBVIRT_CHANGE_DEVICE_REMOVED:
                /* Memory or vCPU hotplug: the layout is learned again. */
                if (vm) {
                        log_vm(LOG_INFO, vm->name, "Domain %s: %s %s; learning its layout again.", vm->name,
                               libvirt_change_to_string(what), strna(detail));
                        daemon_drop_vm(d, vm);
                }
                /* One being learned has the old layout: its answer is dropped, and asked again. */
                domain_prober_forget(d->domain_prober, ref->uuid);
                add_domain(d, ref->dom, ref->name, ref->uuid);
                break;
        case LIBVIRT_CHANGE_RESUMED:
                if (!vm && domain_ready(ref->dom))
                        add_domain(d, ref->dom, ref->name, ref->uuid);
                break;
        default:
                break;
        }
}

int daemon_libvirt_start(struct daemon *d)
{
        static const struct libvirt_conn_callbacks callbacks = {
                .connection = on_connection,
                .domain_up = on_domain_up,
                .domain_down = on_domain_down,
                .domain_changed = on_domain_changed,
        };
        struct libvirt_conn_config cfg;
        int r;

        if (!d->config->libvirt_enabled)
                return 0;
        r = domain_prober_new(d->vms.procfs_root, d->config->libvirt_uri ?: LIBVIRT_URI_DEFAULT,
                              on_domain_probed, d, &d->domain_prober);
        if (r < 0)
                return r;
        libvirt_conn_config_init(&cfg);
        cfg.uri = d->config->libvirt_uri;
        /* Back within a period or two of libvirtd coming back, but never busier than once a second. */
        cfg.reconnect_max_ms = (unsigned)MAX(d->config->period_ms, (uint64_t)LIBVIRT_RECONNECT_MIN_MS);
        r = libvirt_conn_new(&cfg, &callbacks, d, &d->libvirt);
        if (r < 0)
                return r;
        r = libvirt_conn_start(d->libvirt);
        if (r < 0)
                log_warning("Cannot connect to libvirt at %s: %s; retrying in the background.",
                            cfg.uri ?: LIBVIRT_URI_DEFAULT, libvirt_conn_last_error(d->libvirt));
        return 0;
}

void daemon_libvirt_stop(struct daemon *d)
{
        /* Its threads still waiting for a silent QEMU keep their own references. */
        domain_prober_free(d->domain_prober);
        d->domain_prober = NULL;
        /* Domain handles first: they hold references on the connection. */
        for (size_t i = 0; i < d->vms.n_vms; i++)
                if (d->vms.vms[i]->dom) {
                        virDomainFree(d->vms.vms[i]->dom);
                        d->vms.vms[i]->dom = NULL;
                }
        d->libvirt = libvirt_conn_free(d->libvirt);
        for (unsigned i = 0; i < LIBVIRT_EVENTS_KEPT; i++) {
                free(d->lv_events[i].domain);
                d->lv_events[i].domain = NULL;
        }
}

/* The domain-wide memory node set of a region policy: every node the policy names. libvirt keeps
 * one cpuset.mems per domain (its emulator and vCPU cgroups), so cells cannot differ here; the
 * per-cell split is kept by the vCPU pins (first touch) and by migration. */
static int region_nodeset(const struct managed_vm *vm, const struct snapshot *s, const struct action *a,
                          char *buf, size_t size)
{
        struct idset nodes = vm->policy.nodes;

        for (unsigned i = 0; i < vm->policy.n_cell_nodes; i++)
                idset_or(&nodes, &vm->policy.cell_nodes[i].nodes);
        for (unsigned i = 0; i < s->host.n_nodes; i++)
                if (a->node_mask & (1u << i))
                        idset_add(&nodes, s->host.node[i].id);
        return idset_format(&nodes, buf, size);
}

int daemon_libvirt_apply(struct daemon *d, struct managed_vm *vm, const struct snapshot *s,
                         const struct action *a, struct actuator_result *res)
{
        _cleanup_free_ char *error = NULL;
        int r;

        if (!vm->uuid)
                return 1;
        switch (a->type) {
        case ACTION_PIN_VCPUS:
        case ACTION_PIN_EMULATOR:
                if (!vm->dom)
                        return -ENOTCONN;
                r = libvirt_actuator_apply(vm->dom, a, vm->model, res, &error);
                if (r < 0)
                        log_vm(LOG_WARNING, vm->name, "VM %s: libvirt refused the pin: %s", vm->name,
                               error ?: strerror(-r));
                return r;
        case ACTION_SET_REGION_POLICY: {
                virTypedParameterPtr params = NULL;
                int n = 0, max = 0;
                char set[256];

                if (!vm->dom)
                        return -ENOTCONN;
                r = region_nodeset(vm, s, a, set, sizeof(set));
                if (r < 0)
                        return r;
                /* One domain-wide set: the region policy of every further cell asks the same. */
                if (streq_ptr(vm->libvirt_mems, set))
                        return vm->libvirt_mems_result;
                free(vm->libvirt_mems);
                vm->libvirt_mems = strdup(set);
                if (virTypedParamsAddString(&params, &n, &max, VIR_DOMAIN_NUMA_NODESET, set) < 0)
                        return -ENOMEM;
                r = virDomainSetNumaParameters(vm->dom, params, n, VIR_DOMAIN_AFFECT_LIVE);
                virTypedParamsFree(params, n);
                if (r < 0) {
                        (void)libvirt_last_error(&error);
                        /* Cannot be done here (not a transient failure): said once, at notice level. */
                        r = vm->libvirt_mems_result = -EOPNOTSUPP;
                        /* Not fatal: migration still keeps the pages on the policy's nodes. libvirt
                         * changes a running domain's nodeset only in numatune mode "restrictive". */
                        log_vm(LOG_NOTICE, vm->name,
                               "VM %s: libvirt would not bound the domain's memory to nodes %s (%s); "
                               "new allocations are not bound, migration keeps the pages there.",
                               vm->name, set, strna(error));
                        return r;
                }
                vm->libvirt_mems_result = 0;
                log_vm(LOG_INFO, vm->name,
                       "VM %s: memory bound to nodes %s through libvirt (live numatune).", vm->name, set);
                return 0;
        }
        default:
                return 1;
        }
}

struct json_object *daemon_libvirt_status_json(struct daemon *d)
{
        struct json_object *o = json_object_new_object(), *events = json_object_new_array();
        uint64_t first = d->lv_event_seq > LIBVIRT_EVENTS_KEPT ? d->lv_event_seq - LIBVIRT_EVENTS_KEPT : 0;

        json_object_object_add(o, "enabled", json_object_new_boolean(d->libvirt != NULL));
        json_object_object_add(o, "uri",
                               json_object_new_string(d->config->libvirt_uri ?: LIBVIRT_URI_DEFAULT));
        json_object_object_add(o, "connected",
                               json_object_new_boolean(d->libvirt && libvirt_conn_is_connected(d->libvirt)));
        json_object_object_add(
                o, "generation",
                json_object_new_int(d->libvirt ? (int)libvirt_conn_generation(d->libvirt) : 0));
        json_object_object_add(
                o, "retry_in_ms",
                json_object_new_int(d->libvirt ? (int)libvirt_conn_retry_delay_ms(d->libvirt) : 0));
        json_object_object_add(o, "last_error",
                               d->libvirt && !libvirt_conn_is_connected(d->libvirt)
                                       ? json_object_new_string(libvirt_conn_last_error(d->libvirt))
                                       : NULL);
        for (uint64_t seq = first; seq < d->lv_event_seq; seq++) {
                const struct libvirt_event_record *e = &d->lv_events[seq % LIBVIRT_EVENTS_KEPT];
                struct json_object *j = json_object_new_object();

                json_object_object_add(j, "seq", json_object_new_uint64(e->seq));
                json_object_object_add(j, "time_ns", json_object_new_uint64(e->time_ns));
                json_object_object_add(j, "name", e->domain ? json_object_new_string(e->domain) : NULL);
                json_object_object_add(j, "kind", json_object_new_string(e->kind));
                json_object_object_add(j, "what", json_object_new_string(strempty(e->what)));
                json_object_array_add(events, j);
        }
        json_object_object_add(o, "events", events);
        return o;
}
