/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus calls only; the masks and unit names are built and checked in cgroup-unit.c, where
 * unit tests reach them without systemd. */
#include "vnuma/host/cgroup-systemd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "vnuma/basic/log.h"
#include "vnuma/basic/macro.h"
#include "vnuma/host/cgroup-unit.h"

#define SYSTEMD_DEST    "org.freedesktop.systemd1"
#define SYSTEMD_PATH    "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

static void busp(sd_bus **b)
{
        sd_bus_flush_close_unref(*b);
}

static void bus_messagep(sd_bus_message **m)
{
        sd_bus_message_unref(*m);
}

/* -errno of a failed call, and its message for the caller. */
static int call_error(const char *unit, sd_bus_error *e, int r, char **ret_error)
{
        if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit"))
                r = -ENOENT;
        else if (sd_bus_error_is_set(e) && sd_bus_error_get_errno(e) > 0)
                r = -sd_bus_error_get_errno(e);
        if (r >= 0)
                r = -EIO;
        if (ret_error && e->message)
                *ret_error = strdup(e->message);
        log_debug_errno(r, "cgroup-systemd: %s: %s", unit, e->message ?: strerror(-r));
        sd_bus_error_free(e);
        return r;
}

static int bus_open(sd_bus **ret)
{
        sd_bus *b = NULL;
        int r;

        r = sd_bus_open_system(&b);
        if (r < 0)
                return r;
        r = sd_bus_set_method_call_timeout(b, CGROUP_SYSTEMD_TIMEOUT_US);
        if (r < 0) {
                sd_bus_flush_close_unref(b);
                return r;
        }
        *ret = b;
        return 0;
}

/* One (sv) entry of the property array: NAME, variant "ay" of the mask. */
static int append_mask(sd_bus_message *m, const char *name, const struct idset *set)
{
        uint8_t buf[CGROUP_UNIT_MASK_MAX];
        size_t n = cgroup_unit_mask_from_idset(set, buf);
        int r;

        r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "ay");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', buf, n);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int systemd_unit_set_allowed(const char *unit, const struct idset *cpus, const struct idset *mems,
                             char **ret_error)
{
        _cleanup_(busp) sd_bus *bus = NULL;
        _cleanup_(bus_messagep) sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        if (!cgroup_unit_name_is_valid(unit) || !cpus || !mems)
                return -EINVAL;
        r = bus_open(&bus);
        if (r < 0)
                return log_debug_errno(r, "cgroup-systemd: no system bus: %m");
        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "SetUnitProperties");
        if (r >= 0)
                r = sd_bus_message_append(m, "sb", unit, 1); /* runtime: gone with /run at reboot */
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = append_mask(m, "AllowedCPUs", cpus);
        if (r >= 0)
                r = append_mask(m, "AllowedMemoryNodes", mems);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, 0, &e, NULL);
        if (r < 0)
                return call_error(unit, &e, r, ret_error);
        return 0;
}

static int get_mask(sd_bus *bus, const char *path, const char *iface, const char *name, struct idset *ret,
                    sd_bus_error *e)
{
        _cleanup_(bus_messagep) sd_bus_message *reply = NULL;
        const void *p = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_get_property(bus, SYSTEMD_DEST, path, iface, name, e, &reply, "ay");
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(reply, 'y', &p, &n);
        if (r < 0)
                return r;
        return cgroup_unit_mask_to_idset(p, n, ret);
}

int systemd_unit_get_allowed(const char *unit, struct idset *ret_cpus, struct idset *ret_mems,
                             char **ret_error)
{
        _cleanup_(busp) sd_bus *bus = NULL;
        _cleanup_(bus_messagep) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        struct idset cpus, mems;
        const char *path, *iface;
        int r;

        if (!cgroup_unit_name_is_valid(unit))
                return -EINVAL;
        iface = strlen(unit) > 6 && streq(unit + strlen(unit) - 6, ".scope")
                        ? "org.freedesktop.systemd1.Scope"
                        : "org.freedesktop.systemd1.Service";
        r = bus_open(&bus);
        if (r < 0)
                return log_debug_errno(r, "cgroup-systemd: no system bus: %m");
        r = sd_bus_call_method(bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit", &e, &reply, "s",
                               unit);
        if (r < 0)
                return call_error(unit, &e, r, ret_error);
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        r = get_mask(bus, path, iface, "AllowedCPUs", &cpus, &e);
        if (r >= 0)
                r = get_mask(bus, path, iface, "AllowedMemoryNodes", &mems, &e);
        if (r < 0)
                return sd_bus_error_is_set(&e) ? call_error(unit, &e, r, ret_error) : r;
        if (ret_cpus)
                *ret_cpus = cpus;
        if (ret_mems)
                *ret_mems = mems;
        return 0;
}
