/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumad's state, shared by the main loop (vnumad.c) and the control commands
 * (daemon-commands.c). Internal to the daemon. */

#include <stdbool.h>
#include <stdint.h>

#include "vnuma/actuator.h"
#include "vnuma/control-server.h"
#include "vnuma/daemon-config.h"
#include "vnuma/engine.h"
#include "vnuma/sampler.h"
#include "vnuma/topology.h"
#include "vnuma/vm-manager.h"

#define QMP_RETRY_PERIODS 10

/* Command-line settings; each overrides the config file when set. */
struct daemon_args {
        const char *config_path;
        const char *socket_path;
        const char **qmp;
        unsigned n_qmp;
        const char *qmp_dir;
        bool foreground;
        int dry_run;        /* -1: from config */
        uint64_t period_ms; /* 0: from config */
        const char *sysfs_root;
        const char *procfs_root;
};

/* A QMP socket that failed to become a VM: retried after QMP_RETRY_PERIODS. */
struct qmp_failure {
        char *path;
        uint64_t retry_period;
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

        int period_timer;
        int signal_fd, signal_watch;
        int inotify_fd, inotify_watch;

        uint64_t period;
        uint64_t start_ns;
        bool quit;
        bool rescan; /* the QMP directory changed */

        struct qmp_failure *failures;
        unsigned n_failures;

        struct engine_step_result last_step;
        uint64_t total_bytes_migrated;
        uint64_t total_actions;
        uint64_t total_failed_actions;
};

extern const struct control_command daemon_commands[];
extern const size_t daemon_n_commands;

/* Runs one period now (used by the timer and by `rebalance`). */
int daemon_run_period(struct daemon *d);
uint64_t daemon_now_ns(void);
