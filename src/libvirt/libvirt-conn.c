/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's libvirt connection: connect, keepalive, reconnect with backoff, teardown. Its domain
 * events and the discovery after each connect are in libvirt-domain-events.c. */

#include <stdlib.h>

#include "libvirt-conn-internal.h"
#include "vnuma/basic/log.h"
#include "vnuma/libvirt/libvirt-error.h"

void libvirt_conn_config_init(struct libvirt_conn_config *cfg)
{
        *cfg = (struct libvirt_conn_config){
                .uri = LIBVIRT_URI_DEFAULT,
                .pid_dir = LIBVIRT_PID_DIR_DEFAULT,
                .keepalive_interval_s = LIBVIRT_KEEPALIVE_INTERVAL_S,
                .keepalive_count = LIBVIRT_KEEPALIVE_COUNT,
                .reconnect_min_ms = LIBVIRT_RECONNECT_MIN_MS,
                .reconnect_max_ms = LIBVIRT_RECONNECT_MAX_MS,
        };
}

unsigned libvirt_backoff_next(unsigned prev_ms, unsigned min_ms, unsigned max_ms)
{
        if (min_ms == 0)
                min_ms = 1;
        if (max_ms < min_ms)
                max_ms = min_ms;
        if (prev_ms < min_ms)
                return min_ms;
        return prev_ms > max_ms / 2 ? max_ms : prev_ms * 2;
}

static void set_error(struct libvirt_conn *c, const char *message)
{
        char *m = strdup(message ?: "unknown error");

        if (m) {
                free(c->last_error);
                c->last_error = m;
        }
}

static void schedule(struct libvirt_conn *c, int ms);

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
        struct libvirt_conn *c = opaque;
        static const char *const reasons[] = {
                [VIR_CONNECT_CLOSE_REASON_ERROR] = "connection error",
                [VIR_CONNECT_CLOSE_REASON_EOF] = "libvirtd closed the connection",
                [VIR_CONNECT_CLOSE_REASON_KEEPALIVE] = "keepalive timeout",
                [VIR_CONNECT_CLOSE_REASON_CLIENT] = "closed by client",
        };

        if (conn != c->conn || c->closing)
                return;
        set_error(c, reason >= 0 && (size_t)reason < ELEMENTSOF(reasons) && reasons[reason]
                             ? reasons[reason]
                             : "connection closed");
        /* Not here: closing the connection from inside its own close callback is not allowed.
         * Tear down from a timer on the next loop iteration. */
        c->closing = true;
        schedule(c, 0);
}

static void teardown(struct libvirt_conn *c)
{
        if (!c->conn)
                return;
        libvirt_conn_deregister_events(c);
        if (c->close_cb_registered) {
                (void)virConnectUnregisterCloseCallback(c->conn, on_close);
                c->close_cb_registered = false;
        }
        (void)virConnectClose(c->conn);
        virResetLastError();
        c->conn = NULL;
}

static int try_connect(struct libvirt_conn *c)
{
        _cleanup_free_ char *m = NULL;
        int r;

        c->conn = virConnectOpen(c->uri);
        if (!c->conn) {
                r = libvirt_last_error(&m);
                set_error(c, m);
                return r;
        }
        libvirt_quiet_conn_errors(c->conn);

        /* Keepalive needs an event loop; without one libvirt refuses and we only lose early
         * detection of a hung daemon, not of a closed socket. */
        if (c->keepalive_interval_s > 0 &&
            virConnectSetKeepAlive(c->conn, c->keepalive_interval_s, c->keepalive_count) < 0) {
                (void)libvirt_last_error(&m);
                log_debug("libvirt: keepalive not enabled: %s", strna(m));
        }
        if (virConnectRegisterCloseCallback(c->conn, on_close, c, NULL) < 0) {
                r = libvirt_last_error(&m);
                set_error(c, m);
                teardown(c);
                return r;
        }
        c->close_cb_registered = true;
        r = libvirt_conn_register_events(c);
        if (r < 0) {
                set_error(c, "registering domain event callbacks failed");
                teardown(c);
                return r;
        }

        c->generation++;
        c->delay_ms = 0;
        log_debug("libvirt: connected to %s (connection %u)", c->uri, c->generation);
        if (c->cb.connection)
                c->cb.connection(c, true, NULL, c->userdata);
        libvirt_conn_discover(c);
        return 0;
}

static void on_timer(int timer, void *opaque)
{
        struct libvirt_conn *c = opaque;
        int r;

        if (c->closing) {
                c->closing = false;
                teardown(c);
                if (c->cb.connection)
                        c->cb.connection(c, false, c->last_error, c->userdata);
                c->delay_ms = libvirt_backoff_next(0, c->reconnect_min_ms, c->reconnect_max_ms);
                schedule(c, (int)c->delay_ms);
                return;
        }
        if (c->conn) {
                schedule(c, -1);
                return;
        }
        r = try_connect(c);
        if (r >= 0) {
                schedule(c, -1);
                return;
        }
        log_debug("libvirt: reconnect to %s failed: %s", c->uri, strna(c->last_error));
        c->delay_ms = libvirt_backoff_next(c->delay_ms, c->reconnect_min_ms, c->reconnect_max_ms);
        schedule(c, (int)c->delay_ms);
}

/* ms < 0 disarms the timer. */
static void schedule(struct libvirt_conn *c, int ms)
{
        if (c->timer < 0) {
                if (ms < 0)
                        return;
                c->timer = virEventAddTimeout(ms, on_timer, c, NULL);
                if (c->timer < 0)
                        log_debug("libvirt: no event loop for the reconnect timer");
                return;
        }
        virEventUpdateTimeout(c->timer, ms);
}

int libvirt_conn_new(const struct libvirt_conn_config *cfg, const struct libvirt_conn_callbacks *cb,
                     void *userdata, struct libvirt_conn **ret)
{
        struct libvirt_conn_config d;
        struct libvirt_conn *c;

        if (!ret)
                return -EINVAL;
        libvirt_conn_config_init(&d);
        if (!cfg)
                cfg = &d;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->uri = strdup(cfg->uri ?: d.uri);
        c->pid_dir = strdup(cfg->pid_dir ?: d.pid_dir);
        c->keepalive_interval_s = cfg->keepalive_interval_s ?: d.keepalive_interval_s;
        c->keepalive_count = cfg->keepalive_count ?: d.keepalive_count;
        c->reconnect_min_ms = cfg->reconnect_min_ms ?: d.reconnect_min_ms;
        c->reconnect_max_ms = cfg->reconnect_max_ms ?: d.reconnect_max_ms;
        if (cb)
                c->cb = *cb;
        c->userdata = userdata;
        c->timer = -1;
        for (size_t i = 0; i < _EV_MAX; i++)
                c->event_ids[i] = -1;
        if (!c->uri || !c->pid_dir) {
                libvirt_conn_free(c);
                return -ENOMEM;
        }
        libvirt_quiet_errors();
        *ret = c;
        return 0;
}

int libvirt_conn_start(struct libvirt_conn *c)
{
        int r;

        if (!c)
                return -EINVAL;
        if (c->conn)
                return 0;
        r = try_connect(c);
        if (r < 0) {
                c->delay_ms = libvirt_backoff_next(0, c->reconnect_min_ms, c->reconnect_max_ms);
                schedule(c, (int)c->delay_ms);
        }
        return r;
}

struct libvirt_conn *libvirt_conn_free(struct libvirt_conn *c)
{
        if (!c)
                return NULL;
        if (c->timer >= 0)
                virEventRemoveTimeout(c->timer);
        teardown(c);
        libvirt_conn_forget_known(c);
        free(c->uri);
        free(c->pid_dir);
        free(c->last_error);
        free(c);
        return NULL;
}

virConnectPtr libvirt_conn_get(const struct libvirt_conn *c)
{
        return c && !c->closing ? c->conn : NULL;
}

bool libvirt_conn_is_connected(const struct libvirt_conn *c)
{
        return libvirt_conn_get(c) != NULL;
}

unsigned libvirt_conn_generation(const struct libvirt_conn *c)
{
        return c ? c->generation : 0;
}

unsigned libvirt_conn_retry_delay_ms(const struct libvirt_conn *c)
{
        return c && !libvirt_conn_is_connected(c) ? c->delay_ms : 0;
}

const char *libvirt_conn_last_error(const struct libvirt_conn *c)
{
        return c && c->last_error ? c->last_error : "no error";
}
