/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad: keeps every guest NUMA cell of the QEMU guests it manages on one host node.
 * One thread, one event loop: a period timer drives sense -> plan -> act (period.c); the control
 * socket, signals and the watched QMP directory (signals.c) are served in between. This file
 * sets it all up from the options (options.c) and runs the loop. */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "qmp-prober.h"
#include "vnuma/basic/event-loop.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"
#include "vnuma/qmp/qmp.h"

/* Kernel NUMA balancing moves guest pages too, toward the CPU that touched them: with the vCPUs
 * pinned first it pulls the way vnumad moves (vnumad(8), KERNEL NUMA BALANCING). Said once, so an
 * operator reading the log knows two movers are at work. */
static void note_kernel_balancing(struct daemon *d)
{
        _cleanup_free_ char *line = NULL;

        if (read_one_line_at(d->args.procfs_root ?: "/proc", "/sys/kernel/numa_balancing", &line) >= 0 &&
            line[0] != '0')
                log_info("Kernel NUMA balancing is on (kernel.numa_balancing=%s): vnumad pins vCPUs before "
                         "it moves memory, so the kernel's hinting faults pull the same way; see vnumad(8).",
                         line);
}

static void daemon_done(struct daemon *d)
{
        daemon_metrics_remove_textfile(d);
        json_object_put(d->show_cache);
        control_server_free(d->control);
        qmp_prober_free(d->prober);
        daemon_libvirt_stop(d);
        engine_free(d->engine);
        actuator_free(d->actuator);
        sampler_free(d->sampler);
        vm_manager_done(&d->vms);
        host_topology_free(d->topo);
        daemon_config_free(d->config);
        event_loop_remove_io(d->signal_watch);
        event_loop_remove_io(d->inotify_watch);
        event_loop_remove_timer(d->period_timer);
        event_loop_remove_timer(d->watchdog_timer);
        if (d->signal_fd >= 0)
                close(d->signal_fd);
        if (d->inotify_fd >= 0)
                close(d->inotify_fd);
        for (unsigned i = 0; i < d->n_failures; i++)
                free(d->failures[i].path), free(d->failures[i].error);
        free(d->failures);
        free(d->args.qmp);
}

int main(int argc, char *argv[])
{
        struct daemon d = {.signal_fd = -1,
                           .inotify_fd = -1,
                           .signal_watch = -1,
                           .inotify_watch = -1,
                           .period_timer = -1,
                           .watchdog_timer = -1};
        _cleanup_free_ char *error = NULL;
        struct control_options co;
        int r;

        log_set_program("vnumad");
        /* A peer that hangs up (a vnumactl, libvirtd) must cost an EPIPE, not the daemon. */
        signal(SIGPIPE, SIG_IGN);
        r = daemon_parse_argv(argc, argv, &d.args);
        if (r <= 0) {
                free(d.args.qmp);
                return r < 0 ? 2 : 0;
        }

        r = daemon_config_load(d.args.config_path, NULL, &d.config, &error);
        if (d.args.check_config) {
                /* Like sshd -t: silent when valid, the bare "FILE:LINE: problem" when not, for
                 * ExecStartPre=/ExecReload= and scripts (no log priority prefix). */
                if (r < 0)
                        fprintf(stderr, "%s\n", error ?: strerror(-r));
                daemon_config_free(d.config);
                free(d.args.qmp);
                return r < 0 ? 1 : 0;
        }
        if (r < 0) {
                log_error("Invalid configuration: %s", error ?: strerror(-r));
                free(d.args.qmp);
                return 1;
        }
        r = daemon_apply_args(d.config, &d.args);
        if (r < 0)
                goto fail;
        log_set_max_level(d.config->log_level);

        r = event_loop_init();
        if (r < 0) {
                log_error_errno(r, "Cannot set up the event loop: %m");
                goto fail;
        }
        r = host_topology_read(d.args.sysfs_root, &d.topo);
        if (r < 0) {
                log_error_errno(r, "Cannot read the host NUMA topology: %m");
                goto fail;
        }
        vm_manager_init(&d.vms, d.args.procfs_root, (int)d.config->query_timeout_ms);
        r = daemon_new_sampler(&d, d.config, &d.sampler);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the sampler \"%s\": %m", d.config->sampler);
                goto fail;
        }
        r = daemon_new_actuator(&d, &d.actuator);
        if (r >= 0)
                r = daemon_new_engine(&d, d.config, &d.engine);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the engine: %m");
                goto fail;
        }
        r = daemon_setup_signals(&d);
        if (r >= 0)
                r = daemon_setup_qmp_dir(&d);
        if (r < 0) {
                log_error_errno(r, "Cannot watch signals or the QMP directory %s: %m",
                                strna(d.config->qmp_dir));
                goto fail;
        }
        control_options_from_config(d.config, &co);
        r = control_server_new(d.config->socket_path, &co, daemon_commands, daemon_n_commands, &d,
                               &d.control, &error);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the control socket %s: %s", d.config->socket_path,
                                error ?: strerror(-r));
                goto fail;
        }
        if (!d.args.foreground && !getenv("NOTIFY_SOCKET")) {
                if (daemon(0, 0) < 0) {
                        r = log_error_errno(negative_errno(), "Cannot detach: %m");
                        goto fail;
                }
                log_open_syslog();
        }

        note_kernel_balancing(&d);
        d.start_ns = daemon_now_ns();
        log_info("vnumad %s: %u host nodes, sampler %s, period %" PRIu64 " ms%s.", VNUMAD_VERSION,
                 d.topo->n_nodes, sampler_describe(d.sampler), d.config->period_ms,
                 d.config->dry_run ? ", dry run" : "");
        r = daemon_libvirt_start(&d);
        if (r < 0) {
                log_error_errno(r, "Cannot set up libvirt: %m");
                goto fail;
        }
        r = qmp_prober_new(d.vms.procfs_root, daemon_on_probed, &d, &d.prober);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the QMP socket prober: %m");
                goto fail;
        }
        (void)daemon_discover_qmp(&d);
        d.period_timer = event_loop_add_timer((int)d.config->period_ms, daemon_on_period, &d);
        if (d.period_timer < 0) {
                r = d.period_timer;
                goto fail;
        }
        r = daemon_setup_watchdog(&d);
        if (r < 0)
                goto fail;
        sd_notify(false, "READY=1");

        while (!d.quit) {
                r = event_loop_run_once();
                if (r < 0) {
                        log_error_errno(r, "Event loop failed: %m");
                        break;
                }
        }
        sd_notify(false, "STOPPING=1");
        daemon_done(&d);
        return r < 0 ? 1 : 0;
fail:
        daemon_done(&d);
        return 1;
}
