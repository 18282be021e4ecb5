/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumad's configuration: SYSCONFDIR/vnumad/vnumad.conf (INI, parsed with inih) plus
 * SYSCONFDIR/vnumad/conf.d/NAME.conf in lexical order, later files overriding earlier ones.
 * Command-line flags override both (the caller applies them). See vnumad.conf(5). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vnuma/basic/macro.h"
#include "vnuma/model/policy-mode.h"

/* meson's sysconfdir ("/etc" in packages, PREFIX/etc by default), so the daemon reads the file
 * `meson install` put there. */
#ifndef VNUMAD_SYSCONFDIR
#error "VNUMAD_SYSCONFDIR is defined by meson.build"
#endif
#define VNUMAD_CONFIG_FILE       VNUMAD_SYSCONFDIR "/vnumad/vnumad.conf"
#define VNUMAD_SOCKET_PATH       "/run/vnumad/vnumad.sock"
#define VNUMAD_DEFAULT_PERIOD_MS 1000
/* All QMP round trips of learning one VM together (and connecting, once more at most). */
#define VNUMAD_DEFAULT_QUERY_TIMEOUT_MS 10000

/* Control socket limits: defaults, and the ranges the config accepts. */
#define VNUMAD_CONTROL_IDLE_TIMEOUT_MS   30000
#define VNUMAD_CONTROL_MAX_CLIENTS       32
#define VNUMAD_CONTROL_MAX_CLIENTS_USER  8
#define VNUMAD_CONTROL_CLIENTS_LIMIT     1024

/* [vm NAME]: a policy for one VM, matched by its name (QEMU -name, or the QMP socket's
 * basename without extension). */
enum {
        POLICY_SET_MODE = 1 << 0,
        POLICY_SET_NODES = 1 << 1,
        POLICY_SET_PIN = 1 << 2,
        POLICY_SET_RATE = 1 << 3,
};

struct vm_config {
        char *name;
        struct vm_policy policy; /* only the fields in `set` are meaningful */
        unsigned set;            /* POLICY_SET_* */
};

struct daemon_config {
        /* [daemon] */
        uint64_t period_ms;
        bool dry_run;
        char *socket_path;
        char *read_group; /* members may use read-only control commands; NULL: root only */
        gid_t read_gid;   /* read_group resolved when the file was loaded */
        uint64_t control_idle_timeout_ms;
        unsigned control_max_clients;      /* in all, one kept for root */
        unsigned control_max_clients_user; /* per uid other than root */
        int log_level;    /* syslog level */
        /* [qmp] */
        char **qmp_sockets;
        unsigned n_qmp_sockets;
        char *qmp_dir;             /* watched for *.sock / *.qmp sockets */
        uint64_t query_timeout_ms; /* time budget of one guest query */
        /* [libvirt] */
        bool libvirt_enabled; /* default yes */
        char *libvirt_uri;    /* NULL: LIBVIRT_URI_DEFAULT */
        /* [metrics] */
        char *metrics_textfile; /* node_exporter textfile written each period; NULL: none */
        /* [policy] defaults for VMs without their own */
        struct vm_policy default_policy;
        uint64_t host_migrate_rate; /* bytes/s over all VMs */
        unsigned imbalance_pct;
        unsigned hysteresis_periods;
        char *sampler;        /* auto, residency, hinting, soft-dirty */
        uint64_t scan_window; /* bytes per VM per period */
        /* [vm NAME] sections */
        struct vm_config *vms;
        unsigned n_vms;
};

int daemon_config_new(struct daemon_config **ret); /* all defaults */
void daemon_config_free(struct daemon_config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct daemon_config *, daemon_config_free);

/* Loads path (NULL: the default file, which may be missing) and then the *.conf files of
 * dropin_dir (NULL: "conf.d" next to path). On failure *ret_error says "FILE:LINE: problem". */
int daemon_config_load(const char *path, const char *dropin_dir, struct daemon_config **ret,
                       char **ret_error);

/* The policy for a VM name: [policy], overridden by the keys of its [vm NAME] section. */
void daemon_config_policy_for(const struct daemon_config *c, const char *vm_name, struct vm_policy *ret);

/* "yes/no/true/false/on/off/1/0" */
int parse_boolean(const char *v, bool *ret);
/* "250ms", "2s", "1min", plain number = milliseconds */
int parse_duration_ms(const char *v, uint64_t *ret);
