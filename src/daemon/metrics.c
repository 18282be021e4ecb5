/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad's metrics in the Prometheus text exposition format, for `vnumactl metrics` and for a
 * node_exporter textfile. A textfile rather than an HTTP listener: vnumad then opens no network
 * socket (the unit keeps RestrictAddressFamilies=AF_UNIX AF_NETLINK), and node_exporter, which
 * a host runs anyway, does the serving, TLS and authentication. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/string-table.h"
#include "vnuma/report/metrics-text.h"
#include "vnuma/report/snapshot-locality.h"

/* Readable by node_exporter, which does not run as root (the unit's UMask= is 0077). */
#define TEXTFILE_MODE 0644

static const char *const migration_result_table[_VM_MIGRATION_RESULT_MAX] = {
        [VM_MIGRATION_MOVED] = "moved",   [VM_MIGRATION_ALREADY_THERE] = "already_there",
        [VM_MIGRATION_BUSY] = "busy",     [VM_MIGRATION_NO_MEMORY] = "no_memory",
        [VM_MIGRATION_ABSENT] = "absent", [VM_MIGRATION_SHARED] = "shared",
        [VM_MIGRATION_FAILED] = "failed",
};
static DEFINE_STRING_TABLE_LOOKUP_TO_STRING(migration_result, enum vm_migration_result);

static void daemon_families(struct daemon *d, FILE *f)
{
        prom_family(f, "vnumad_build_info", "gauge", "The running vnumad's version, as a label; always 1.");
        fprintf(f, "vnumad_build_info{version=\"%s\"} 1\n", PROM_LABEL(VNUMAD_VERSION));
        prom_family(f, "vnumad_managed_vms", "gauge", "VMs vnumad manages now.");
        fprintf(f, "vnumad_managed_vms %zu\n", d->vms.n_vms);
        prom_family(f, "vnumad_libvirt_connected", "gauge",
                    "1 while vnumad is connected to libvirt, 0 while not or with libvirt off.");
        fprintf(f, "vnumad_libvirt_connected %d\n",
                d->libvirt && libvirt_conn_is_connected(d->libvirt) ? 1 : 0);
        prom_family(f, "vnumad_periods_total", "counter", "Periods run.");
        fprintf(f, "vnumad_periods_total %" PRIu64 "\n", d->period);
        prom_family(f, "vnumad_actions_total", "counter", "Actions applied.");
        fprintf(f, "vnumad_actions_total %" PRIu64 "\n", d->total_actions);
        prom_family(f, "vnumad_actions_failed_total", "counter", "Actions that failed.");
        fprintf(f, "vnumad_actions_failed_total %" PRIu64 "\n", d->total_failed_actions);
        prom_family(f, "vnumad_plan_seconds", "gauge", "Planning time of the last period.");
        fprintf(f, "vnumad_plan_seconds %.9f\n", (double)d->last_step.plan_ns / 1e9);
        prom_family(f, "vnumad_period_last_duration_seconds", "gauge",
                    "Wall time of the last whole period: discovery, sense, plan and act.");
        fprintf(f, "vnumad_period_last_duration_seconds %.9f\n", (double)d->last_period_ns / 1e9);
        prom_family(f, "vnumad_period_duration_seconds", "histogram",
                    "Wall time of whole periods: discovery, sense, plan and act.");
        prom_histogram_write(f, "vnumad_period_duration_seconds", &d->period_seconds);
}

static void vm_families(struct daemon *d, FILE *f)
{
        const struct snapshot *s = engine_last_snapshot(d->engine);

        prom_family(f, "vnumad_vm_info", "gauge",
                    "A managed VM: its name (the QMP socket's or the libvirt domain's), where it came from, "
                    "and QEMU's own -name (display only); always 1.");
        for (size_t i = 0; i < d->vms.n_vms; i++) {
                const struct managed_vm *vm = d->vms.vms[i];
                fprintf(f, "vnumad_vm_info{vm=\"%s\",source=\"%s\",qemu_name=\"%s\"} 1\n",
                        PROM_LABEL(vm->name), vm->uuid ? "libvirt" : "qmp",
                        PROM_LABEL(strempty(vm->qemu_name)));
        }
        prom_family(f, "vnumad_vm_locality_ratio", "gauge", "Bytes on the home node over present bytes.");
        for (size_t i = 0; i < d->vms.n_vms; i++) {
                struct timeline_point p;
                if (managed_vm_timeline(d->vms.vms[i], &p, 1) == 1 && p.locality >= 0)
                        fprintf(f, "vnumad_vm_locality_ratio{vm=\"%s\"} %.6f\n",
                                PROM_LABEL(d->vms.vms[i]->name), p.locality);
        }
        prom_family(f, "vnumad_vm_migrated_bytes_total", "counter", "Guest RAM moved between host nodes.");
        for (size_t i = 0; i < d->vms.n_vms; i++)
                fprintf(f, "vnumad_vm_migrated_bytes_total{vm=\"%s\"} %" PRIu64 "\n",
                        PROM_LABEL(d->vms.vms[i]->name), d->vms.vms[i]->bytes_migrated);
        prom_family(f, "vnumad_vm_migration_bytes_total", "counter",
                    "Guest RAM that migrations asked to move, by what became of it.");
        for (size_t i = 0; i < d->vms.n_vms; i++)
                for (int k = 0; k < _VM_MIGRATION_RESULT_MAX; k++)
                        fprintf(f, "vnumad_vm_migration_bytes_total{vm=\"%s\",result=\"%s\"} %" PRIu64 "\n",
                                PROM_LABEL(d->vms.vms[i]->name), migration_result_to_string(k),
                                d->vms.vms[i]->migration_bytes[k]);

        /* From the last period's snapshot: residency as the sampler has seen it so far. */
        prom_family(f, "vnumad_vm_cell_resident_bytes", "gauge",
                    "Guest RAM of a guest cell resident on a host node (kernel node id).");
        for (unsigned i = 0; s && i < s->n_vms; i++) {
                const struct managed_vm *vm = vm_manager_find(&d->vms, s->vms[i].id);
                for (unsigned c = 0; vm && c < s->vms[i].n_cells; c++)
                        for (unsigned pos = 0; pos < s->host.n_nodes; pos++)
                                fprintf(f,
                                        "vnumad_vm_cell_resident_bytes{vm=\"%s\",cell=\"%u\",node=\"%d\"} "
                                        "%" PRIu64 "\n",
                                        PROM_LABEL(vm->name), s->vms[i].cells[c].id, s->host.node[pos].id,
                                        s->vms[i].cells[c].resident_bytes[pos]);
        }
        prom_family(f, "vnumad_vm_cell_off_home_bytes", "gauge",
                    "Present guest RAM of a guest cell that is not on the cell's home node.");
        for (unsigned i = 0; s && i < s->n_vms; i++) {
                const struct managed_vm *vm = vm_manager_find(&d->vms, s->vms[i].id);
                for (unsigned c = 0; vm && c < s->vms[i].n_cells; c++) {
                        struct locality l = snap_cell_locality(s, &s->vms[i], c);
                        /* No home (no vCPU placement known): nothing to be away from. */
                        if (l.home_node >= 0)
                                fprintf(f,
                                        "vnumad_vm_cell_off_home_bytes{vm=\"%s\",cell=\"%u\"} %" PRIu64 "\n",
                                        PROM_LABEL(vm->name), s->vms[i].cells[c].id,
                                        l.present_bytes - l.local_bytes);
                }
        }
}

int daemon_metrics_text(struct daemon *d, char **ret)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return -ENOMEM;
        daemon_families(d, f);
        vm_families(d, f);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

static void remove_written(struct daemon *d)
{
        if (!d->metrics_written)
                return;
        if (unlink(d->metrics_written) < 0 && errno != ENOENT)
                log_debug_errno(errno, "Cannot remove the metrics textfile %s: %m", d->metrics_written);
        free(d->metrics_written);
        d->metrics_written = NULL;
}

void daemon_metrics_write_textfile(struct daemon *d)
{
        const char *path = d->config->metrics_textfile;
        _cleanup_free_ char *text = NULL, *error = NULL;
        int r;

        /* Switched off or moved by a reload: the old file would freeze at its last numbers. */
        if (!streq_ptr(path, d->metrics_written))
                remove_written(d);
        if (!path)
                return;
        r = daemon_metrics_text(d, &text);
        if (r >= 0)
                r = write_file_atomic(path, text, strlen(text), TEXTFILE_MODE);
        if (r < 0) {
                if (asprintf(&error, "%s", strerror(-r)) < 0)
                        error = NULL;
                if (!streq_ptr(error, d->metrics_error))
                        log_warning_errno(
                                r,
                                "Cannot write the metrics textfile %s: %m (the directory must exist "
                                "and be writable: ReadWritePaths= in a drop-in, see vnumad(8)); "
                                "retrying each period.",
                                path);
                free(d->metrics_error);
                d->metrics_error = TAKE_PTR(error);
                return;
        }
        if (d->metrics_error)
                log_info("Metrics textfile %s written again.", path);
        free(d->metrics_error);
        d->metrics_error = NULL;
        if (!d->metrics_written)
                d->metrics_written = strdup(path); /* out of memory: not removed at exit */
}

void daemon_metrics_remove_textfile(struct daemon *d)
{
        remove_written(d);
        free(d->metrics_error);
        d->metrics_error = NULL;
}
