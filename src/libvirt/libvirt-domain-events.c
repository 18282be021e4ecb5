/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain events of the daemon's libvirt connection: libvirt's lifecycle, device, metadata and
 * tunable events and the discovery after each connect, turned into domain_up / domain_down /
 * domain_changed, with the running domains remembered to report those gone while disconnected. */

#include <stdlib.h>

#include "libvirt-conn-internal.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/parse-util.h"
#include "vnuma/basic/string-table.h"
#include "vnuma/libvirt/libvirt-error.h"
#include "vnuma/libvirt/vm-metadata.h"

static const char *const libvirt_up_reason_table[_LIBVIRT_UP_REASON_MAX] = {
        [LIBVIRT_UP_DISCOVERED] = "discovered",
        [LIBVIRT_UP_BOOTED] = "booted",
        [LIBVIRT_UP_MIGRATED_IN] = "migrated-in",
        [LIBVIRT_UP_RESTORED] = "restored",
};

static const char *const libvirt_down_reason_table[_LIBVIRT_DOWN_REASON_MAX] = {
        [LIBVIRT_DOWN_SHUTDOWN] = "shutdown", [LIBVIRT_DOWN_DESTROYED] = "destroyed",
        [LIBVIRT_DOWN_CRASHED] = "crashed",   [LIBVIRT_DOWN_MIGRATED_OUT] = "migrated-out",
        [LIBVIRT_DOWN_SAVED] = "saved",       [LIBVIRT_DOWN_FAILED] = "failed",
        [LIBVIRT_DOWN_GONE] = "gone",         [LIBVIRT_DOWN_OTHER] = "other",
};

static const char *const libvirt_change_table[_LIBVIRT_CHANGE_MAX] = {
        [LIBVIRT_CHANGE_SUSPENDED] = "suspended",
        [LIBVIRT_CHANGE_RESUMED] = "resumed",
        [LIBVIRT_CHANGE_PANICKED] = "panicked",
        [LIBVIRT_CHANGE_DEFINED] = "defined",
        [LIBVIRT_CHANGE_UNDEFINED] = "undefined",
        [LIBVIRT_CHANGE_DEVICE_ADDED] = "device-added",
        [LIBVIRT_CHANGE_DEVICE_REMOVED] = "device-removed",
        [LIBVIRT_CHANGE_METADATA] = "metadata",
        [LIBVIRT_CHANGE_TUNABLE] = "tunable",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(libvirt_up_reason, enum libvirt_up_reason);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(libvirt_down_reason, enum libvirt_down_reason);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(libvirt_change, enum libvirt_change);

int libvirt_read_pid(const char *pid_dir, const char *name, pid_t *ret)
{
        _cleanup_free_ char *file = NULL, *line = NULL;
        int pid, r;

        if (!pid_dir || !name || strchr(name, '/'))
                return -EINVAL;
        if (asprintf(&file, "%s.pid", name) < 0)
                return -ENOMEM;
        r = read_one_line_at(pid_dir, file, &line);
        if (r < 0)
                return r;
        if (safe_atoi(line, &pid) < 0 || pid <= 0)
                return -EBADMSG;
        *ret = pid;
        return 0;
}

/* Fills ref from dom; the strings live in the caller's buffers. */
static void domain_ref_init(const struct libvirt_conn *c, virDomainPtr dom,
                            char uuid[static VIR_UUID_STRING_BUFLEN], struct libvirt_domain_ref *ref)
{
        unsigned id = virDomainGetID(dom);
        pid_t pid = 0;

        if (virDomainGetUUIDString(dom, uuid) < 0) {
                virResetLastError();
                uuid[0] = '\0';
        }
        *ref = (struct libvirt_domain_ref){
                .dom = dom,
                .name = virDomainGetName(dom) ?: "",
                .uuid = uuid,
                .id = id == (unsigned)-1 ? -1 : (int)id,
        };
        if (ref->id >= 0 && libvirt_read_pid(c->pid_dir, ref->name, &pid) == 0)
                ref->pid = pid;
}

static ssize_t known_find(const struct libvirt_conn *c, const char *uuid)
{
        for (size_t i = 0; i < c->n_known; i++)
                if (streq(c->known[i].uuid, uuid))
                        return (ssize_t)i;
        return -1;
}

static void known_add(struct libvirt_conn *c, const struct libvirt_domain_ref *d)
{
        struct known_domain *n;

        if (!d->uuid[0] || known_find(c, d->uuid) >= 0)
                return;
        n = realloc(c->known, (c->n_known + 1) * sizeof(*n));
        if (!n)
                return; /* only costs a missed "gone" report after a reconnect */
        c->known = n;
        snprintf(n[c->n_known].uuid, sizeof(n[c->n_known].uuid), "%s", d->uuid);
        n[c->n_known].name = strdup(d->name);
        c->n_known++;
}

static void known_remove_at(struct libvirt_conn *c, size_t i)
{
        free(c->known[i].name);
        c->known[i] = c->known[--c->n_known];
}

static void known_remove(struct libvirt_conn *c, const char *uuid)
{
        ssize_t i = known_find(c, uuid);

        if (i >= 0)
                known_remove_at(c, (size_t)i);
}

static void emit_up(struct libvirt_conn *c, virDomainPtr dom, enum libvirt_up_reason why)
{
        char uuid[VIR_UUID_STRING_BUFLEN];
        struct libvirt_domain_ref ref;

        domain_ref_init(c, dom, uuid, &ref);
        known_add(c, &ref);
        if (c->cb.domain_up)
                c->cb.domain_up(c, &ref, why, c->userdata);
}

static void emit_down(struct libvirt_conn *c, virDomainPtr dom, enum libvirt_down_reason why)
{
        char uuid[VIR_UUID_STRING_BUFLEN];
        struct libvirt_domain_ref ref;

        domain_ref_init(c, dom, uuid, &ref);
        ref.pid = 0;
        known_remove(c, ref.uuid);
        if (c->cb.domain_down)
                c->cb.domain_down(c, &ref, why, c->userdata);
}

static void emit_changed(struct libvirt_conn *c, virDomainPtr dom, enum libvirt_change what,
                         const char *detail)
{
        char uuid[VIR_UUID_STRING_BUFLEN];
        struct libvirt_domain_ref ref;

        domain_ref_init(c, dom, uuid, &ref);
        if (c->cb.domain_changed)
                c->cb.domain_changed(c, &ref, what, detail, c->userdata);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
        struct libvirt_conn *c = opaque;

        switch (event) {
        case VIR_DOMAIN_EVENT_STARTED:
                emit_up(c, dom,
                        detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED   ? LIBVIRT_UP_MIGRATED_IN
                        : detail == VIR_DOMAIN_EVENT_STARTED_RESTORED ? LIBVIRT_UP_RESTORED
                                                                      : LIBVIRT_UP_BOOTED);
                break;
        case VIR_DOMAIN_EVENT_STOPPED: {
                enum libvirt_down_reason why;

                switch (detail) {
                case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
                        why = LIBVIRT_DOWN_SHUTDOWN;
                        break;
                case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
                        why = LIBVIRT_DOWN_DESTROYED;
                        break;
                case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
                        why = LIBVIRT_DOWN_CRASHED;
                        break;
                case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
                        why = LIBVIRT_DOWN_MIGRATED_OUT;
                        break;
                case VIR_DOMAIN_EVENT_STOPPED_SAVED:
                        why = LIBVIRT_DOWN_SAVED;
                        break;
                case VIR_DOMAIN_EVENT_STOPPED_FAILED:
                        why = LIBVIRT_DOWN_FAILED;
                        break;
                default:
                        why = LIBVIRT_DOWN_OTHER;
                        break;
                }
                emit_down(c, dom, why);
                break;
        }
        case VIR_DOMAIN_EVENT_SUSPENDED:
        case VIR_DOMAIN_EVENT_PMSUSPENDED:
                emit_changed(c, dom, LIBVIRT_CHANGE_SUSPENDED, NULL);
                break;
        case VIR_DOMAIN_EVENT_RESUMED:
                emit_changed(c, dom, LIBVIRT_CHANGE_RESUMED,
                             detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED ? "migrated" : NULL);
                break;
        case VIR_DOMAIN_EVENT_CRASHED:
                emit_changed(c, dom, LIBVIRT_CHANGE_PANICKED, NULL);
                break;
        case VIR_DOMAIN_EVENT_DEFINED:
                emit_changed(c, dom, LIBVIRT_CHANGE_DEFINED, NULL);
                break;
        case VIR_DOMAIN_EVENT_UNDEFINED:
                emit_changed(c, dom, LIBVIRT_CHANGE_UNDEFINED, NULL);
                break;
        default:
                break; /* SHUTDOWN (guest asked; STOPPED follows) */
        }
        return 0;
}

static void on_device_added(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
        emit_changed(opaque, dom, LIBVIRT_CHANGE_DEVICE_ADDED, alias);
}

static void on_device_removed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
        emit_changed(opaque, dom, LIBVIRT_CHANGE_DEVICE_REMOVED, alias);
}

static void on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri, void *opaque)
{
        /* Only our element matters; <title>/<description> and other namespaces do not. */
        if (type == VIR_DOMAIN_METADATA_ELEMENT && nsuri && streq(nsuri, VM_METADATA_URI))
                emit_changed(opaque, dom, LIBVIRT_CHANGE_METADATA, nsuri);
}

static void on_tunable(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params, int nparams,
                       void *opaque)
{
        emit_changed(opaque, dom, LIBVIRT_CHANGE_TUNABLE, nparams > 0 ? params[0].field : NULL);
}

int libvirt_conn_register_events(struct libvirt_conn *c)
{
        static const int ids[_EV_MAX] = {
                [EV_LIFECYCLE] = VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                [EV_DEVICE_ADDED] = VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                [EV_DEVICE_REMOVED] = VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                [EV_METADATA] = VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                [EV_TUNABLE] = VIR_DOMAIN_EVENT_ID_TUNABLE,
        };
        const virConnectDomainEventGenericCallback cbs[_EV_MAX] = {
                [EV_LIFECYCLE] = VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                [EV_DEVICE_ADDED] = VIR_DOMAIN_EVENT_CALLBACK(on_device_added),
                [EV_DEVICE_REMOVED] = VIR_DOMAIN_EVENT_CALLBACK(on_device_removed),
                [EV_METADATA] = VIR_DOMAIN_EVENT_CALLBACK(on_metadata),
                [EV_TUNABLE] = VIR_DOMAIN_EVENT_CALLBACK(on_tunable),
        };

        for (size_t i = 0; i < _EV_MAX; i++) {
                int id = virConnectDomainEventRegisterAny(c->conn, NULL, ids[i], cbs[i], c, NULL);

                if (id < 0)
                        return libvirt_last_error(NULL);
                c->event_ids[i] = id;
        }
        return 0;
}

void libvirt_conn_deregister_events(struct libvirt_conn *c)
{
        for (size_t i = 0; i < _EV_MAX; i++)
                if (c->event_ids[i] >= 0) {
                        (void)virConnectDomainEventDeregisterAny(c->conn, c->event_ids[i]);
                        c->event_ids[i] = -1;
                }
}

/* Running domains now: report each up, and those we knew but which are gone, down. */
void libvirt_conn_discover(struct libvirt_conn *c)
{
        virDomainPtr *doms = NULL;
        int n;

        n = virConnectListAllDomains(c->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0) {
                _cleanup_free_ char *m = NULL;

                (void)libvirt_last_error(&m);
                log_debug("libvirt: listing domains failed: %s", strna(m));
                return;
        }

        /* Mark: known entries not seen in this listing are gone. */
        bool *seen = calloc(c->n_known + 1, sizeof(bool));
        for (int i = 0; i < n; i++) {
                char uuid[VIR_UUID_STRING_BUFLEN];

                if (seen && virDomainGetUUIDString(doms[i], uuid) == 0) {
                        ssize_t k = known_find(c, uuid);

                        if (k >= 0)
                                seen[k] = true;
                }
        }
        for (size_t k = c->n_known; seen && k-- > 0;)
                if (!seen[k]) {
                        struct libvirt_domain_ref ref = {
                                .name = c->known[k].name ?: "",
                                .uuid = c->known[k].uuid,
                                .id = -1,
                        };
                        char uuid[VIR_UUID_STRING_BUFLEN];
                        virDomainPtr dom = virDomainLookupByUUIDString(c->conn, ref.uuid);

                        virResetLastError();
                        snprintf(uuid, sizeof(uuid), "%s", c->known[k].uuid);
                        ref.uuid = uuid;
                        ref.dom = dom;
                        _cleanup_free_ char *name = c->known[k].name ? strdup(c->known[k].name) : NULL;
                        ref.name = name ?: "";
                        known_remove_at(c, k);
                        if (c->cb.domain_down)
                                c->cb.domain_down(c, &ref, LIBVIRT_DOWN_GONE, c->userdata);
                        if (dom)
                                virDomainFree(dom);
                }
        free(seen);

        for (int i = 0; i < n; i++) {
                emit_up(c, doms[i], LIBVIRT_UP_DISCOVERED);
                virDomainFree(doms[i]);
        }
        free(doms);
}

void libvirt_conn_forget_known(struct libvirt_conn *c)
{
        for (size_t i = 0; i < c->n_known; i++)
                free(c->known[i].name);
        free(c->known);
        c->known = NULL;
        c->n_known = 0;
}
