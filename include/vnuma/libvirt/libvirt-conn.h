/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One connection to libvirtd (or virtqemud) for the daemon: keepalive, reconnect with backoff,
 * discovery of running domains and domain events, delivered as three callbacks.
 *
 * Runs on libvirt's default event implementation, which the daemon registers
 * (event_loop_init / virEventRegisterDefaultImpl) before libvirt_conn_new; everything here,
 * callbacks included, happens on that loop's thread.
 *
 * After every (re)connect: connection(true), then domain_up(DISCOVERED) for every running
 * domain, then domain_down(GONE) for any domain that was up before the connection dropped and is
 * not running any more. While disconnected the QEMU processes keep running; the daemon may keep
 * managing them through /proc and QMP. */

#include <stdbool.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>

#include "vnuma/basic/macro.h"

#define LIBVIRT_URI_DEFAULT          "qemu:///system"
#define LIBVIRT_PID_DIR_DEFAULT      "/run/libvirt/qemu"
#define LIBVIRT_KEEPALIVE_INTERVAL_S 5
#define LIBVIRT_KEEPALIVE_COUNT      3
#define LIBVIRT_RECONNECT_MIN_MS     1000
#define LIBVIRT_RECONNECT_MAX_MS     30000

enum libvirt_up_reason {
        LIBVIRT_UP_DISCOVERED,  /* running when we connected */
        LIBVIRT_UP_BOOTED,      /* started: booted, woken up, from snapshot */
        LIBVIRT_UP_MIGRATED_IN, /* incoming migration started (paused until it finishes) */
        LIBVIRT_UP_RESTORED,    /* restored from a saved state */
        _LIBVIRT_UP_REASON_MAX,
};

enum libvirt_down_reason {
        LIBVIRT_DOWN_SHUTDOWN,
        LIBVIRT_DOWN_DESTROYED,
        LIBVIRT_DOWN_CRASHED,
        LIBVIRT_DOWN_MIGRATED_OUT,
        LIBVIRT_DOWN_SAVED,
        LIBVIRT_DOWN_FAILED,
        LIBVIRT_DOWN_GONE, /* stopped while we were disconnected */
        LIBVIRT_DOWN_OTHER,
        _LIBVIRT_DOWN_REASON_MAX,
};

enum libvirt_change {
        LIBVIRT_CHANGE_SUSPENDED,
        LIBVIRT_CHANGE_RESUMED,
        LIBVIRT_CHANGE_PANICKED, /* guest panic: QEMU may still run */
        LIBVIRT_CHANGE_DEFINED,  /* persistent config defined or updated */
        LIBVIRT_CHANGE_UNDEFINED,
        LIBVIRT_CHANGE_DEVICE_ADDED,   /* memory or vCPU hotplug: refresh the guest model */
        LIBVIRT_CHANGE_DEVICE_REMOVED, /* likewise */
        LIBVIRT_CHANGE_METADATA,       /* our <vnumad:policy> element changed: re-read the policy */
        LIBVIRT_CHANGE_TUNABLE,        /* cputune/numatune changed (also by our own pins) */
        _LIBVIRT_CHANGE_MAX,
};

const char *libvirt_up_reason_to_string(enum libvirt_up_reason r);
const char *libvirt_down_reason_to_string(enum libvirt_down_reason r);
const char *libvirt_change_to_string(enum libvirt_change c);

/* A domain as the callbacks see it. Everything is borrowed for the duration of the call; take
 * virDomainRef(dom) to keep the domain. */
struct libvirt_domain_ref {
        virDomainPtr dom;
        const char *name;
        const char *uuid; /* "xxxxxxxx-xxxx-…", VIR_UUID_STRING_BUFLEN - 1 characters */
        int id;           /* libvirt domain id, -1 when not running */
        pid_t pid;        /* QEMU pid from PID_DIR/NAME.pid; 0 if unknown or not running */
};

struct libvirt_conn;

struct libvirt_conn_callbacks {
        void (*connection)(struct libvirt_conn *c, bool connected, const char *reason, void *userdata);
        void (*domain_up)(struct libvirt_conn *c, const struct libvirt_domain_ref *d,
                          enum libvirt_up_reason why, void *userdata);
        void (*domain_down)(struct libvirt_conn *c, const struct libvirt_domain_ref *d,
                            enum libvirt_down_reason why, void *userdata);
        /* detail: the device alias, the first tunable's name, or NULL. */
        void (*domain_changed)(struct libvirt_conn *c, const struct libvirt_domain_ref *d,
                               enum libvirt_change what, const char *detail, void *userdata);
};

struct libvirt_conn_config {
        const char *uri;                             /* NULL = LIBVIRT_URI_DEFAULT */
        const char *pid_dir;                         /* NULL = LIBVIRT_PID_DIR_DEFAULT */
        int keepalive_interval_s;                    /* 0 = default; < 0 disables keepalive */
        unsigned keepalive_count;                    /* 0 = default */
        unsigned reconnect_min_ms, reconnect_max_ms; /* 0 = defaults */
};

void libvirt_conn_config_init(struct libvirt_conn_config *cfg);

/* Copies cfg and the callbacks. Installs the quiet error handler. Does not connect yet. */
int libvirt_conn_new(const struct libvirt_conn_config *cfg, const struct libvirt_conn_callbacks *cb,
                     void *userdata, struct libvirt_conn **ret);
/* Connects now and delivers the discovery callbacks. On failure returns -errno (the message via
 * libvirt_conn_last_error) and keeps retrying in the background with backoff: 1 s doubling to
 * 30 s. 0 if connected. */
int libvirt_conn_start(struct libvirt_conn *c);
/* Closes the connection and cancels retries; no callback runs after it. Accepts NULL. */
struct libvirt_conn *libvirt_conn_free(struct libvirt_conn *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct libvirt_conn *, libvirt_conn_free);

/* The live connection, or NULL while disconnected. Borrowed. */
virConnectPtr libvirt_conn_get(const struct libvirt_conn *c);
bool libvirt_conn_is_connected(const struct libvirt_conn *c);
/* Times connected since libvirt_conn_new (1 after the first connect, 2 after one reconnect, …). */
unsigned libvirt_conn_generation(const struct libvirt_conn *c);
/* Delay before the next reconnect attempt in ms, 0 while connected. */
unsigned libvirt_conn_retry_delay_ms(const struct libvirt_conn *c);
/* The last connect failure or close reason; never NULL. */
const char *libvirt_conn_last_error(const struct libvirt_conn *c);

/* The next delay of the backoff: min_ms at first (prev 0), then doubling, capped at max_ms. */
unsigned libvirt_backoff_next(unsigned prev_ms, unsigned min_ms, unsigned max_ms);

/* Reads PID_DIR/NAME.pid. -ENOENT if absent, -EBADMSG if it is not a pid. */
int libvirt_read_pid(const char *pid_dir, const char *name, pid_t *ret);
