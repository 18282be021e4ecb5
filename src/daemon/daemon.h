/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumad's state, shared by the main loop (vnumad.c) and the control commands
 * (daemon-commands.c). Internal to the daemon. */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "vnuma/actuator/actuator.h"
#include "vnuma/config/daemon-config.h"
#include "vnuma/daemon/control-server.h"
#include "vnuma/daemon/vm-manager.h"
#include "vnuma/engine/engine.h"
#include "vnuma/host/topology.h"
#include "vnuma/libvirt/libvirt-conn.h"
#include "vnuma/report/metrics-text.h"
#include "vnuma/sampler/sampler.h"

#define QMP_RETRY_PERIODS 10

/* Command-line settings; each overrides the config file when set. */
struct daemon_args {
        const char *config_path;
        bool check_config; /* load the configuration, report, exit */
        const char *socket_path;
        const char **qmp;
        unsigned n_qmp;
        const char *qmp_dir;
        bool foreground;
        int dry_run;        /* -1: from config */
        int log_level;      /* -1: from config */
        uint64_t period_ms; /* 0: from config */
        const char *sysfs_root;
        const char *procfs_root;
        const char *libvirt_uri; /* NULL: from config */
        bool no_libvirt;
};

/* A libvirt connection or domain event, kept for `vnumactl status`. */
#define LIBVIRT_EVENTS_KEPT 64
struct libvirt_event_record {
        uint64_t seq;
        uint64_t time_ns; /* since the daemon started */
        char *domain;     /* NULL for connection events */
        const char *kind; /* "up", "down", "changed", "connected", "disconnected" */
        const char *what; /* libvirt_*_to_string, or the close reason */
};

/* At most this many failed sockets and domains are remembered (failure-prune.c). */
#define QMP_FAILURES_MAX 1024
/* Sockets learned per batch: the rest wait for the next discovery. */
#define QMP_PROBE_BATCH_MAX 256

/* A QMP socket that failed to become a VM: retried after QMP_RETRY_PERIODS. */
struct qmp_failure {
        char *path;
        uint64_t retry_period;
        uint64_t owner; /* the VM that has this socket's QEMU already: no retry while it is managed */
        char *error;    /* the last failure's message: a retry that fails the same way logs at debug */
};

struct daemon {
        struct daemon_args args;
        struct daemon_config *config;
        struct host_topology *topo;
        struct vm_manager vms;
        struct sampler *sampler;
        struct actuator *actuator;
        struct engine *engine;
        struct control_server *control;
        struct qmp_prober *prober;
        struct domain_prober *domain_prober; /* with libvirt */

        int period_timer;
        int watchdog_timer; /* -1 without a systemd watchdog */
        int signal_fd, signal_watch;
        int inotify_fd, inotify_watch;

        uint64_t period;
        uint64_t start_ns;
        uint64_t last_sense_ns; /* when the sampler last read, 0 before the first reading */
        bool quit;
        bool rescan; /* the QMP directory changed */

        struct libvirt_conn *libvirt; /* NULL with libvirt off */
        bool libvirt_rescan;          /* look for running domains not managed yet */
        struct libvirt_event_record lv_events[LIBVIRT_EVENTS_KEPT];
        uint64_t lv_event_seq;

        struct qmp_failure *failures;
        unsigned n_failures;

        struct engine_step_result last_step;
        /* The advice's CPU load per node: the ledger's, averaged over periods (daemon-advise.c). */
        double advise_load[SNAP_NODES_MAX];
        unsigned advise_load_nodes; /* 0 before the first period */
        uint64_t total_bytes_migrated;
        uint64_t total_actions;
        uint64_t total_failed_actions;

        /* The last full `show` document, served again until a period, a VM or a policy changes
         * (daemon-commands.c): building it reads every VM's threads. */
        struct json_object *show_cache;
        uint64_t show_cache_key[4];
        uint64_t policy_changes; /* daemon_set_vm_policy calls */

        /* metrics.c: how long whole periods took, and the textfile. */
        uint64_t last_period_ns;
        struct prom_histogram period_seconds;
        char *metrics_written; /* the textfile path last written: removed at exit or when it changes */
        char *metrics_error;   /* the last write's failure, logged once until it changes */
};

extern const struct control_command daemon_commands[];
/* daemon-advise.c: the "advise" command (vnumactl advise, numad's -w). */
void daemon_advise_note_period(struct daemon *d);
int daemon_cmd_advise(void *userdata, struct json_object *args, bool may_write, struct json_object **ret,
                      char **ret_error);
extern const size_t daemon_n_commands;

/* The policy of a VM from the config, or for a libvirt domain from its metadata. A policy that
 * differs from the VM's current one restarts the VM's placement state (a new engine id). */
void daemon_update_policy(struct daemon *d, struct managed_vm *vm);
/* The config's [vm NAME] or [policy] only. */
void daemon_config_policy(struct daemon *d, struct managed_vm *vm);
void daemon_set_vm_policy(struct daemon *d, struct managed_vm *vm, const struct vm_policy *p,
                          const char *source, const char *error);
void daemon_drop_vm(struct daemon *d, struct managed_vm *vm);
bool daemon_failed_recently(struct daemon *d, const char *key);
/* Returns true if error differs from the key's last failure (log it), false if it repeats. */
bool daemon_note_failure(struct daemon *d, const char *key, const char *error);
/* The socket's QEMU is managed already, as VM owner (through libvirt, or another socket). */
void daemon_note_owned(struct daemon *d, const char *key, uint64_t owner);
void daemon_forget_failure(struct daemon *d, const char *key);

/* failure-prune.c: drop failure entries that no longer matter (their socket is gone, or
 * expired with no error to remember) and keep at most QMP_FAILURES_MAX. */
void daemon_prune_failures(struct daemon *d);

/* watchdog.c: with WATCHDOG_USEC set, a timer that pings systemd at half that interval. */
int daemon_setup_watchdog(struct daemon *d);

/* daemon-libvirt.c */
int daemon_libvirt_start(struct daemon *d);
void daemon_libvirt_stop(struct daemon *d);
/* Adds the running domains that are not managed yet (retrying failed ones after QMP_RETRY_PERIODS). */
void daemon_libvirt_discover(struct daemon *d);
void daemon_libvirt_resolve_policy(struct daemon *d, struct managed_vm *vm);
/* Applies a to a libvirt domain: pins through libvirt, memory policy as a live numatune nodeset.
 * 1 if the action is not libvirt's (migrations: the direct actuator moves the pages). */
int daemon_libvirt_apply(struct daemon *d, struct managed_vm *vm, const struct snapshot *s,
                         const struct action *a, struct actuator_result *res);
struct json_object *daemon_libvirt_status_json(struct daemon *d);

/* Monotonic nanoseconds: the period clock and event times. */
static inline uint64_t daemon_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* options.c: argv into d->args (1: run, 0: exit 0 after --help/--version, < 0: usage error);
 * then the flags over a loaded config (flags win over the file). */
int daemon_parse_argv(int argc, char *argv[], struct daemon_args *a);
int daemon_apply_args(struct daemon_config *c, const struct daemon_args *a);

/* vm-registry.c: plain-QEMU sockets from --qmp and --qmp-dir, learned off the event loop by
 * d->prober (qmp-prober.h) and added by daemon_on_probed; VMs whose QEMU is gone. Discovery
 * returns false, and looks again next time, while the previous batch is still being learned. */
bool daemon_discover_qmp(struct daemon *d);
void daemon_on_probed(struct qmp_probe *probes, size_t n, void *userdata);
void daemon_reap(struct daemon *d);

/* metrics.c: the Prometheus text exposition of d (vnumactl metrics, the textfile). */
int daemon_metrics_text(struct daemon *d, char **ret);
/* Writes the text to [metrics] textfile atomically, if set; once per period. A failure is logged
 * (once until it changes) and does not stop the period. */
void daemon_metrics_write_textfile(struct daemon *d);
/* At exit: removes the textfile this daemon wrote, so that a stopped vnumad is not read as a
 * running one with frozen numbers. */
void daemon_metrics_remove_textfile(struct daemon *d);

/* period.c: runs one period now (used by the timer and by `rebalance`). */
int daemon_run_period(struct daemon *d);
void daemon_on_period(void *userdata);
/* Built from c into *ret, touching nothing of d's: a reload builds the new parts first and swaps
 * them in only when all of them succeeded. */
void daemon_policy_params(const struct daemon_config *c, struct policy_params *ret);
int daemon_new_sampler(struct daemon *d, const struct daemon_config *c, struct sampler **ret);
int daemon_new_actuator(struct daemon *d, struct actuator **ret);
int daemon_new_engine(struct daemon *d, const struct daemon_config *c, struct engine **ret);

/* reload.c: SIGHUP. Applies the configuration file again, all of it or, when a part cannot be
 * built, none of it (one error says why). Settings only read at start keep their running value
 * and are named in a warning. */
void daemon_reload(struct daemon *d);

/* signals.c: SIGHUP (reload), SIGTERM/SIGINT, and inotify on the QMP directory. */
int daemon_setup_signals(struct daemon *d);
int daemon_setup_qmp_dir(struct daemon *d);
