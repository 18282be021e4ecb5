/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad: keeps every guest NUMA cell of the QEMU guests it manages on one host node.
 * One thread, one event loop: a period timer drives sense -> plan -> act; the control socket,
 * signals and the watched QMP directory are served in between. */
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "daemon.h"
#include "vnuma/basic/event-loop.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"
#include "vnuma/qmp/qmp.h"
#include "vnuma/report/snapshot-locality.h"

uint64_t daemon_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t clock_now(void *userdata)
{
        return daemon_now_ns();
}

static void help(void)
{
        printf("Usage: vnumad [OPTIONS]\n"
               "\n"
               "Keep every guest NUMA cell of QEMU/KVM guests on one host NUMA node.\n"
               "\n"
               "  --config FILE        Configuration file (default %s)\n"
               "  --socket PATH        Control socket (default %s)\n"
               "  --qmp PATH           Manage the QEMU behind this QMP socket (repeatable)\n"
               "  --qmp-dir DIR        Manage every QMP socket that appears in DIR\n"
               "  --libvirt-uri URI    Manage the running domains of this libvirt (default %s)\n"
               "  --no-libvirt         Do not use libvirt\n"
               "  --period MS          Length of a period in milliseconds (default %d)\n"
               "  --dry-run            Plan and report, change nothing\n"
               "  --foreground         Do not detach; log to stderr\n"
               "  --log-level LEVEL    err, warning, notice, info or debug\n"
               "  -h, --help           Show this help\n"
               "  --version            Show the version\n"
               "\n"
               "See vnumad(8) and vnumad.conf(5).\n",
               VNUMAD_CONFIG_FILE, VNUMAD_SOCKET_PATH, LIBVIRT_URI_DEFAULT, VNUMAD_DEFAULT_PERIOD_MS);
}

static int parse_argv(int argc, char *argv[], struct daemon_args *a)
{
        enum {
                ARG_CONFIG = 0x100,
                ARG_SOCKET,
                ARG_QMP,
                ARG_QMP_DIR,
                ARG_PERIOD,
                ARG_DRY_RUN,
                ARG_FOREGROUND,
                ARG_LOG_LEVEL,
                ARG_VERSION,
                ARG_SYSFS,
                ARG_PROCFS,
                ARG_LIBVIRT_URI,
                ARG_NO_LIBVIRT,
        };
        static const struct option options[] = {
                {"config", required_argument, NULL, ARG_CONFIG},
                {"socket", required_argument, NULL, ARG_SOCKET},
                {"qmp", required_argument, NULL, ARG_QMP},
                {"qmp-dir", required_argument, NULL, ARG_QMP_DIR},
                {"period", required_argument, NULL, ARG_PERIOD},
                {"dry-run", no_argument, NULL, ARG_DRY_RUN},
                {"foreground", no_argument, NULL, ARG_FOREGROUND},
                {"log-level", required_argument, NULL, ARG_LOG_LEVEL},
                {"libvirt-uri", required_argument, NULL, ARG_LIBVIRT_URI},
                {"no-libvirt", no_argument, NULL, ARG_NO_LIBVIRT},
                {"sysfs-root", required_argument, NULL, ARG_SYSFS},
                {"procfs-root", required_argument, NULL, ARG_PROCFS},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {},
        };
        int c;

        a->dry_run = -1;
        a->log_level = -1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_CONFIG:
                        a->config_path = optarg;
                        break;
                case ARG_SOCKET:
                        a->socket_path = optarg;
                        break;
                case ARG_QMP: {
                        const char **n = realloc(a->qmp, (a->n_qmp + 1) * sizeof(*n));
                        if (!n)
                                return log_error_errno(-ENOMEM, "Out of memory.");
                        a->qmp = n;
                        a->qmp[a->n_qmp++] = optarg;
                        break;
                }
                case ARG_QMP_DIR:
                        a->qmp_dir = optarg;
                        break;
                case ARG_PERIOD:
                        if (parse_duration_ms(optarg, &a->period_ms) < 0 || a->period_ms < 10 ||
                            a->period_ms > 3600000)
                                return log_error_errno(-EINVAL, "Invalid --period \"%s\": 10ms to 1h.",
                                                       optarg);
                        break;
                case ARG_DRY_RUN:
                        a->dry_run = 1;
                        break;
                case ARG_FOREGROUND:
                        a->foreground = true;
                        break;
                case ARG_LOG_LEVEL:
                        a->log_level = log_level_from_string(optarg);
                        if (a->log_level < 0)
                                return log_error_errno(-EINVAL, "Unknown --log-level \"%s\".", optarg);
                        break;
                case ARG_LIBVIRT_URI:
                        if (!strstr(optarg, ":/"))
                                return log_error_errno(
                                        -EINVAL,
                                        "Invalid --libvirt-uri \"%s\": expected a libvirt URI "
                                        "such as qemu:///system.",
                                        optarg);
                        a->libvirt_uri = optarg;
                        break;
                case ARG_NO_LIBVIRT:
                        a->no_libvirt = true;
                        break;
                case ARG_SYSFS:
                        a->sysfs_root = optarg;
                        break;
                case ARG_PROCFS:
                        a->procfs_root = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vnumad %s\n", VNUMAD_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument \"%s\"; see vnumad --help.",
                                       argv[optind]);
        return 1;
}

/* Flags win over the file. */
static int apply_args(struct daemon_config *c, const struct daemon_args *a)
{
        if (a->socket_path && !(c->socket_path = (free(c->socket_path), strdup(a->socket_path))))
                return -ENOMEM;
        if (a->qmp_dir && !(c->qmp_dir = (free(c->qmp_dir), strdup(a->qmp_dir))))
                return -ENOMEM;
        if (a->n_qmp) {
                char **n = realloc(c->qmp_sockets, (c->n_qmp_sockets + a->n_qmp) * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                c->qmp_sockets = n;
                for (unsigned i = 0; i < a->n_qmp; i++)
                        if (!(c->qmp_sockets[c->n_qmp_sockets++] = strdup(a->qmp[i])))
                                return -ENOMEM;
        }
        if (a->libvirt_uri && !(c->libvirt_uri = (free(c->libvirt_uri), strdup(a->libvirt_uri))))
                return -ENOMEM;
        if (a->no_libvirt)
                c->libvirt_enabled = false;
        if (a->dry_run >= 0)
                c->dry_run = a->dry_run;
        if (a->period_ms)
                c->period_ms = a->period_ms;
        if (a->log_level >= 0)
                c->log_level = a->log_level;
        return 0;
}

void daemon_set_vm_policy(struct daemon *d, struct managed_vm *vm, const struct vm_policy *p,
                          const char *source, const char *error)
{
        bool changed = !vm_policy_equal(&vm->policy, p) || !streq_ptr(vm->policy_error, error);
        char *s = strdup(source), *e = error ? strdup(error) : NULL;

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
                        log_info("VM %s: policy now %s from %s.", vm->name,
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

bool daemon_failed_recently(struct daemon *d, const char *path)
{
        for (unsigned i = 0; i < d->n_failures; i++)
                if (streq(d->failures[i].path, path)) {
                        if (d->failures[i].owner && vm_manager_find(&d->vms, d->failures[i].owner))
                                return true;
                        return d->period < d->failures[i].retry_period;
                }
        return false;
}

void daemon_note_owned(struct daemon *d, const char *path, uint64_t owner)
{
        struct qmp_failure *n;

        for (unsigned i = 0; i < d->n_failures; i++)
                if (streq(d->failures[i].path, path)) {
                        d->failures[i].retry_period = d->period + QMP_RETRY_PERIODS;
                        d->failures[i].owner = owner;
                        return;
                }
        n = realloc(d->failures, (d->n_failures + 1) * sizeof(*n));
        if (!n)
                return;
        d->failures = n;
        n[d->n_failures] = (struct qmp_failure){
                .path = strdup(path),
                .retry_period = d->period + QMP_RETRY_PERIODS,
                .owner = owner,
        };
        if (n[d->n_failures].path)
                d->n_failures++;
}

void daemon_note_failure(struct daemon *d, const char *path)
{
        daemon_note_owned(d, path, 0);
}

void daemon_forget_failure(struct daemon *d, const char *path)
{
        for (unsigned i = 0; i < d->n_failures; i++)
                if (streq(d->failures[i].path, path)) {
                        free(d->failures[i].path);
                        d->failures[i] = d->failures[--d->n_failures];
                        return;
                }
}

static void try_add(struct daemon *d, const char *path)
{
        _cleanup_free_ char *error = NULL;
        struct managed_vm *vm;
        int r;

        if (vm_manager_lookup(&d->vms, path) || daemon_failed_recently(d, path))
                return;
        vm = NULL;
        r = vm_manager_add_qmp(&d->vms, path, &vm, &error);
        if (r == -EEXIST) {
                /* Its QEMU is managed already (through libvirt, or another socket): not asked
                 * again while that VM is. */
                if (error)
                        log_debug("%s", error);
                daemon_note_owned(d, path, vm ? vm->id : 0);
                return;
        }
        if (r < 0) {
                /* Logged once per retry interval, not every period. */
                log_warning("%s (retrying in %d periods)", error ?: strerror(-r), QMP_RETRY_PERIODS);
                daemon_note_failure(d, path);
                return;
        }
        daemon_forget_failure(d, path);
        vm->added_period = d->period;
        daemon_update_policy(d, vm);
        log_info("Managing VM %s (QEMU pid %d, %u cells, %u vCPUs) from %s, policy %s.", vm->name,
                 (int)vm->model->pid, vm->model->n_cells, vm->model->n_vcpus, path,
                 vm_policy_mode_to_string(vm->policy.mode));
}

static bool socket_name(const char *name)
{
        size_t n = strlen(name);
        return (n > 5 && streq(name + n - 5, ".sock")) || (n > 4 && streq(name + n - 4, ".qmp"));
}

static void discover(struct daemon *d)
{
        for (unsigned i = 0; i < d->config->n_qmp_sockets; i++)
                try_add(d, d->config->qmp_sockets[i]);
        if (d->config->qmp_dir) {
                DIR *dir = opendir(d->config->qmp_dir);
                struct dirent *de;

                if (!dir)
                        return;
                while ((de = readdir(dir))) {
                        _cleanup_free_ char *path = NULL;
                        if (!socket_name(de->d_name) ||
                            asprintf(&path, "%s/%s", d->config->qmp_dir, de->d_name) < 0)
                                continue;
                        try_add(d, path);
                }
                closedir(dir);
        }
}

void daemon_drop_vm(struct daemon *d, struct managed_vm *vm)
{
        sampler_forget_vm(d->sampler, vm->id);
        (void)actuator_forget_vm(d->actuator, vm->id);
        vm_manager_remove(&d->vms, vm->id);
}

static void reap(struct daemon *d)
{
        for (size_t i = 0; i < d->vms.n_vms;) {
                struct managed_vm *vm = d->vms.vms[i];

                if (managed_vm_alive(vm, d->vms.procfs_root)) {
                        i++;
                        continue;
                }
                log_notice("VM %s: QEMU pid %d is gone; no longer managed.", vm->name, (int)vm->model->pid);
                daemon_drop_vm(d, vm);
        }
}

/* What the sampler could not read this period. A VM whose QEMU exited is dropped; one whose
 * threads changed is re-learned from QMP at the next discovery. */
static void handle_sampler_issues(struct daemon *d)
{
        const struct sampler_issue *issues;
        size_t n = sampler_issues(d->sampler, &issues);

        for (size_t i = 0; i < n; i++) {
                const struct sampler_issue *is = &issues[i];
                struct managed_vm *vm = vm_manager_find(&d->vms, is->vm_id);

                switch (is->kind) {
                case SAMPLER_ISSUE_GONE:
                        if (vm) {
                                log_notice("VM %s: QEMU exited (%s); no longer managed.", vm->name,
                                           is->message);
                                daemon_drop_vm(d, vm);
                        }
                        break;
                case SAMPLER_ISSUE_STALE:
                        if (vm) {
                                log_notice("VM %s: its threads changed (%s); learning its layout again.",
                                           vm->name, is->message);
                                daemon_drop_vm(d, vm);
                                d->rescan = true;
                        }
                        break;
                case SAMPLER_ISSUE_HOST:
                        log_warning("Host readings failed: %s", is->message);
                        break;
                default:
                        log_warning("VM %s: %s: %s", vm ? vm->name : "?",
                                    sampler_issue_kind_to_string(is->kind), is->message);
                        break;
                }
        }
}

/* Engine callbacks: the real sampler and actuator, over the managed VMs. */
static int engine_sense(void *userdata, uint64_t period, struct snapshot **ret)
{
        struct daemon *d = userdata;
        _cleanup_free_ struct sampler_vm *in = calloc(d->vms.n_vms ?: 1, sizeof(*in));

        if (!in)
                return -ENOMEM;
        for (size_t i = 0; i < d->vms.n_vms; i++) {
                struct managed_vm *vm = d->vms.vms[i];

                in[i] = (struct sampler_vm){
                        .id = vm->id,
                        .name = vm->name,
                        .model = vm->model,
                        .policy = vm->policy,
                };
                /* Invalid policy: measure, never act. */
                if (vm->policy_error)
                        in[i].policy.mode = VM_POLICY_OBSERVE;
        }
        return sampler_sense(d->sampler, d->topo, in, d->vms.n_vms, period,
                             d->config->period_ms * 1000000ull, ret);
}

static int engine_apply(void *userdata, const struct snapshot *s, const struct action *a)
{
        struct daemon *d = userdata;
        struct managed_vm *vm = vm_manager_find(&d->vms, a->vm_id);
        struct actuator_result res = {};
        char line[256];
        int r;

        if (!vm)
                return -ESRCH;
        struct actuator_vm avm = {.id = vm->id, .model = vm->model, .name = vm->name};
        r = daemon_libvirt_apply(d, vm, s, a, &res);
        if (r == 1)
                r = actuator_apply(d->actuator, s, a, &avm, &res);
        if (action_format(a, line, sizeof(line)) < 0)
                snprintf(line, sizeof(line), "%s", action_type_to_string(a->type));
        if (r == -EOPNOTSUPP) {
                /* The actuator already said why, once. */
                log_debug("VM %s: %s not supported for this VM.", vm->name, line);
                return r;
        }
        if (r == -ENOTCONN) {
                /* libvirtd is away: the pin is planned again after the reconnect. */
                log_debug("VM %s: %s waits for libvirt.", vm->name, line);
                return r;
        }
        if (r < 0) {
                log_warning_errno(r, "VM %s: %s failed: %m", vm->name, line);
                return r;
        }
        if (a->type == ACTION_MIGRATE) {
                (void)sampler_note_moved(d->sampler, vm->id, (unsigned)a->cell, a->offset, a->bytes,
                                         a->node_id);
                vm->period_bytes_migrated += res.bytes_moved;
                d->total_bytes_migrated += res.bytes_moved;
        }
        if (a->type == ACTION_MIGRATE)
                /* What move_pages did with each page: the reason a chunk does not move. */
                log_debug("VM %s: %s: %" PRIu64 " pages moved, %" PRIu64 " already there, %" PRIu64
                          " busy, %" PRIu64 " no memory, %" PRIu64 " absent, %" PRIu64 " failed",
                          vm->name, line, res.pages_moved, res.pages_already_there, res.pages_busy,
                          res.pages_nomem, res.pages_absent, res.pages_failed);
        else
                log_debug("VM %s: %s", vm->name, line);
        return 0;
}

int daemon_run_period(struct daemon *d)
{
        struct engine_step_result res = {};
        const struct snapshot *s;
        int r;

        d->period++;
        reap(d);
        if (d->rescan || d->period % QMP_RETRY_PERIODS == 1 || d->vms.n_vms == 0)
                discover(d);
        d->rescan = false;
        if (d->libvirt_rescan || d->period % QMP_RETRY_PERIODS == 1)
                daemon_libvirt_discover(d);

        r = engine_step(d->engine, &res);
        handle_sampler_issues(d);
        if (r < 0)
                return log_error_errno(r, "Period %" PRIu64 ": %m", d->period);
        d->last_step = res;
        d->total_actions += res.n_applied;
        d->total_failed_actions += res.n_failed;

        s = engine_last_snapshot(d->engine);
        for (unsigned i = 0; s && i < s->n_vms; i++) {
                struct managed_vm *vm = vm_manager_find(&d->vms, s->vms[i].id);
                struct locality l = snap_vm_locality(s, &s->vms[i]);
                double ratio = -1;

                if (!vm)
                        continue;
                (void)locality_ratio(&l, &ratio);
                /* What the actuator really moved this period, not what was planned. */
                managed_vm_record(vm, d->period, ratio, vm->period_bytes_migrated);
                vm->period_bytes_migrated = 0;
        }
        sd_notifyf(false, "STATUS=%zu VMs, period %" PRIu64 ", %zu actions (%zu failed)", d->vms.n_vms,
                   d->period, res.n_applied, res.n_failed);
        return 0;
}

static void on_period(void *userdata)
{
        struct daemon *d = userdata;

        (void)daemon_run_period(d);
        if (sd_watchdog_enabled(false, NULL) > 0)
                sd_notify(false, "WATCHDOG=1");
}

static int build_engine(struct daemon *d)
{
        static const struct engine_sampler_ops sampler_ops = {.sense = engine_sense};
        static const struct engine_actuator_ops actuator_ops = {.apply = engine_apply};
        static const struct engine_clock_ops clock_ops = {.now_ns = clock_now};
        struct engine_config ec;

        engine_config_init(&ec);
        ec.dry_run = d->config->dry_run;
        ec.params.imbalance_pct = d->config->imbalance_pct;
        ec.params.hysteresis_periods = d->config->hysteresis_periods;
        ec.params.vm_migrate_rate = d->config->default_policy.migrate_rate;
        ec.params.host_migrate_rate = d->config->host_migrate_rate;
        engine_free(d->engine);
        d->engine = NULL;
        return engine_new(&ec, &sampler_ops, &actuator_ops, &clock_ops, d, &d->engine);
}

static int build_sampler(struct daemon *d)
{
        struct sampler_config sc;
        int kind = sampler_kind_from_string(d->config->sampler);

        if (kind < 0)
                return kind;
        sampler_config_init(&sc);
        sc.procfs_root = d->args.procfs_root;
        sc.sysfs_root = d->args.sysfs_root;
        sc.kind = kind;
        sc.window_bytes = d->config->scan_window;
        sampler_free(d->sampler);
        d->sampler = NULL;
        return sampler_new(&sc, &d->sampler);
}

static int build_actuator(struct daemon *d)
{
        struct actuator_config ac;

        actuator_config_init(&ac);
        ac.kind = d->config->dry_run ? ACTUATOR_DRY_RUN : ACTUATOR_DIRECT;
        ac.procfs_root = d->args.procfs_root;
        ac.sysfs_root = d->args.sysfs_root;

        actuator_free(d->actuator);
        d->actuator = NULL;
        return actuator_new(&ac, &d->actuator);
}

static void reload(struct daemon *d)
{
        _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
        _cleanup_free_ char *error = NULL;
        bool dry_run_changed;
        int r;

        r = daemon_config_load(d->args.config_path, NULL, &c, &error);
        if (r >= 0)
                r = apply_args(c, &d->args);
        if (r < 0) {
                log_error("Reload failed, keeping the running configuration: %s", error ?: strerror(-r));
                return;
        }
        if (!streq(c->socket_path, d->config->socket_path))
                log_warning("The control socket moves to %s only after a restart.", c->socket_path);
        if (!streq_ptr(c->libvirt_uri, d->config->libvirt_uri) ||
            c->libvirt_enabled != d->config->libvirt_enabled)
                log_warning("libvirt settings change only after a restart.");
        dry_run_changed = c->dry_run != d->config->dry_run;
        daemon_config_free(d->config);
        d->config = TAKE_PTR(c);
        log_set_max_level(d->config->log_level);
        for (size_t i = 0; i < d->vms.n_vms; i++)
                daemon_update_policy(d, d->vms.vms[i]);
        event_loop_update_timer(d->period_timer, (int)d->config->period_ms);
        if (dry_run_changed && (build_actuator(d) < 0 || build_engine(d) < 0))
                log_error("Could not switch dry-run mode; keeping going with the old engine.");
        d->rescan = true;
        log_info("Configuration reloaded (%zu VMs, period %" PRIu64 " ms%s).", d->vms.n_vms,
                 d->config->period_ms, d->config->dry_run ? ", dry run" : "");
}

static void on_signal(int fd, bool readable, bool hangup, void *userdata)
{
        struct daemon *d = userdata;
        struct signalfd_siginfo si;

        if (read(fd, &si, sizeof(si)) != sizeof(si))
                return;
        if (si.ssi_signo == SIGHUP) {
                sd_notify(false, "RELOADING=1");
                reload(d);
                sd_notify(false, "READY=1");
        } else {
                log_info("Received %s, exiting.", strsignal((int)si.ssi_signo));
                d->quit = true;
        }
}

static void on_inotify(int fd, bool readable, bool hangup, void *userdata)
{
        struct daemon *d = userdata;
        char buf[4096];

        /* Any change in the directory: look again at the next period. */
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        d->rescan = true;
}

static int setup_signals(struct daemon *d)
{
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        d->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (d->signal_fd < 0)
                return negative_errno();
        d->signal_watch = event_loop_add_io(d->signal_fd, on_signal, d);
        return d->signal_watch < 0 ? d->signal_watch : 0;
}

static int setup_qmp_dir(struct daemon *d)
{
        if (!d->config->qmp_dir)
                return 0;
        if (mkdir(d->config->qmp_dir, 0750) < 0 && errno != EEXIST)
                return negative_errno();
        d->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (d->inotify_fd < 0)
                return negative_errno();
        if (inotify_add_watch(d->inotify_fd, d->config->qmp_dir, IN_CREATE | IN_MOVED_TO | IN_DELETE) < 0)
                return negative_errno();
        d->inotify_watch = event_loop_add_io(d->inotify_fd, on_inotify, d);
        return d->inotify_watch < 0 ? d->inotify_watch : 0;
}

/* Kernel NUMA balancing moves guest pages too, toward wherever a vCPU touched them last, and
 * the pages it is sampling (PROT_NONE until touched) may not move for vnumad meanwhile: two
 * balancers on one guest. Said once; vnumad still works, and uses the hinting faults. */
static void warn_kernel_balancing(struct daemon *d)
{
        _cleanup_free_ char *line = NULL;

        if (read_one_line_at(d->args.procfs_root ?: "/proc", "/sys/kernel/numa_balancing", &line) >= 0 &&
            line[0] != '0')
                log_notice(
                        "Kernel NUMA balancing is on (kernel.numa_balancing=%s): it moves guest pages too, "
                        "and pages it is sampling may not move until touched. For guests vnumad places, "
                        "kernel.numa_balancing=0 is recommended; see vnumad(8).",
                        line);
}

static void daemon_done(struct daemon *d)
{
        control_server_free(d->control);
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
        if (d->signal_fd >= 0)
                close(d->signal_fd);
        if (d->inotify_fd >= 0)
                close(d->inotify_fd);
        for (unsigned i = 0; i < d->n_failures; i++)
                free(d->failures[i].path);
        free(d->failures);
        free(d->args.qmp);
}

int main(int argc, char *argv[])
{
        struct daemon d = {.signal_fd = -1,
                           .inotify_fd = -1,
                           .signal_watch = -1,
                           .inotify_watch = -1,
                           .period_timer = -1};
        _cleanup_free_ char *error = NULL;
        int r;

        log_set_program("vnumad");
        /* A peer that hangs up (a vnumactl, libvirtd) must cost an EPIPE, not the daemon. */
        signal(SIGPIPE, SIG_IGN);
        r = parse_argv(argc, argv, &d.args);
        if (r <= 0) {
                free(d.args.qmp);
                return r < 0 ? 2 : 0;
        }

        r = daemon_config_load(d.args.config_path, NULL, &d.config, &error);
        if (r < 0) {
                log_error("Invalid configuration: %s", error ?: strerror(-r));
                free(d.args.qmp);
                return 1;
        }
        r = apply_args(d.config, &d.args);
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
        vm_manager_init(&d.vms, d.args.procfs_root, QMP_DEFAULT_TIMEOUT_MS);
        r = build_sampler(&d);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the sampler \"%s\": %m", d.config->sampler);
                goto fail;
        }
        r = build_actuator(&d);
        if (r >= 0)
                r = build_engine(&d);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the engine: %m");
                goto fail;
        }
        r = setup_signals(&d);
        if (r >= 0)
                r = setup_qmp_dir(&d);
        if (r < 0) {
                log_error_errno(r, "Cannot watch signals or the QMP directory %s: %m",
                                strna(d.config->qmp_dir));
                goto fail;
        }
        r = control_server_new(d.config->socket_path, d.config->read_group, daemon_commands,
                               daemon_n_commands, &d, &d.control);
        if (r < 0) {
                log_error_errno(r, "Cannot listen on %s: %m%s", d.config->socket_path,
                                r == -EADDRINUSE ? " (another vnumad is running)" : "");
                goto fail;
        }
        if (!d.args.foreground && !getenv("NOTIFY_SOCKET")) {
                if (daemon(0, 0) < 0) {
                        r = log_error_errno(negative_errno(), "Cannot detach: %m");
                        goto fail;
                }
                log_open_syslog();
        }

        warn_kernel_balancing(&d);
        d.start_ns = daemon_now_ns();
        log_info("vnumad %s: %u host nodes, sampler %s, period %" PRIu64 " ms%s.", VNUMAD_VERSION,
                 d.topo->n_nodes, sampler_describe(d.sampler), d.config->period_ms,
                 d.config->dry_run ? ", dry run" : "");
        r = daemon_libvirt_start(&d);
        if (r < 0) {
                log_error_errno(r, "Cannot set up libvirt: %m");
                goto fail;
        }
        discover(&d);
        d.period_timer = event_loop_add_timer((int)d.config->period_ms, on_period, &d);
        if (d.period_timer < 0) {
                r = d.period_timer;
                goto fail;
        }
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
