/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pins through libvirt (virDomainPinVcpuFlags, virDomainPinEmulator, virDomainPinIOThread). */

#include "vnuma/actuator/libvirt-actuator.h"

#include "vnuma/libvirt/libvirt-error.h"

/* A libvirt CPU map of act->cpus; map has room for IDSET_MAX CPUs. Returns its length in bytes,
 * or -EINVAL for an empty set. */
static int cpumap_from_idset(const struct idset *cpus, unsigned char map[static VIR_CPU_MAPLEN(IDSET_MAX)])
{
        int last = -1;

        memset(map, 0, VIR_CPU_MAPLEN(IDSET_MAX));
        IDSET_FOREACH (cpu, cpus) {
                VIR_USE_CPU(map, cpu);
                last = cpu;
        }
        return last < 0 ? -EINVAL : VIR_CPU_MAPLEN(last + 1);
}

static bool model_has_vcpu(const struct guest_model *m, int index)
{
        for (unsigned i = 0; i < m->n_vcpus; i++)
                if (m->vcpus[i].index == index)
                        return true;
        return false;
}

static int pin_vcpus(virDomainPtr dom, const struct action *act, const struct guest_model *model,
                     struct actuator_result *result, char **ret_error)
{
        unsigned char map[VIR_CPU_MAPLEN(IDSET_MAX)];
        unsigned char *saved = NULL;
        int maplen, n_saved = 0, r = 0;
        unsigned pinned = 0;

        maplen = cpumap_from_idset(&act->cpus, map);
        if (maplen < 0 || idset_is_empty(&act->vcpus))
                return -EINVAL;
        if (model)
                IDSET_FOREACH (v, &act->vcpus)
                        if (!model_has_vcpu(model, v))
                                return -ENOENT;

        /* Remember the current pins so a failure halfway can put them back (all or nothing). */
        int host_cpus = virNodeGetCPUMap(virDomainGetConnect(dom), NULL, NULL, 0);
        int vcpus = virDomainGetVcpusFlags(dom, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_VCPU_MAXIMUM);
        int saved_len = host_cpus > 0 ? VIR_CPU_MAPLEN(host_cpus) : 0;

        if (host_cpus > 0 && vcpus > 0) {
                saved = calloc((size_t)vcpus, (size_t)saved_len);
                if (saved)
                        n_saved = virDomainGetVcpuPinInfo(dom, vcpus, saved, saved_len,
                                                          VIR_DOMAIN_AFFECT_LIVE);
                if (n_saved < 0)
                        n_saved = 0;
        }
        virResetLastError();

        IDSET_FOREACH (v, &act->vcpus) {
                if (virDomainPinVcpuFlags(dom, (unsigned)v, map, maplen, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                        r = libvirt_last_error(ret_error);
                        break;
                }
                pinned++;
        }
        if (r < 0) {
                IDSET_FOREACH (v, &act->vcpus) {
                        if (pinned-- == 0)
                                break;
                        if (v < n_saved)
                                (void)virDomainPinVcpuFlags(dom, (unsigned)v, saved + (size_t)v * saved_len,
                                                            saved_len, VIR_DOMAIN_AFFECT_LIVE);
                }
                virResetLastError();
                pinned = 0;
        }
        free(saved);
        if (result)
                result->threads_pinned = pinned;
        return r;
}

/* The emulator's current pin, to put back; NULL if libvirt cannot tell. */
static unsigned char *emulator_pin_save(virDomainPtr dom, int *ret_len)
{
        int host_cpus = virNodeGetCPUMap(virDomainGetConnect(dom), NULL, NULL, 0);
        unsigned char *saved;

        *ret_len = 0;
        if (host_cpus <= 0) {
                virResetLastError();
                return NULL;
        }
        saved = calloc(1, VIR_CPU_MAPLEN(host_cpus));
        if (saved &&
            virDomainGetEmulatorPinInfo(dom, saved, VIR_CPU_MAPLEN(host_cpus), VIR_DOMAIN_AFFECT_LIVE) < 0) {
                virResetLastError();
                free(saved);
                return NULL;
        }
        if (saved)
                *ret_len = VIR_CPU_MAPLEN(host_cpus);
        return saved;
}

static int pin_emulator(virDomainPtr dom, const struct action *act, struct actuator_result *result,
                        char **ret_error)
{
        unsigned char map[VIR_CPU_MAPLEN(IDSET_MAX)];
        _cleanup_free_ unsigned char *saved = NULL;
        virDomainIOThreadInfoPtr *info = NULL;
        unsigned pinned = 0;
        int maplen, saved_len, n, moved = 0, r = 0;

        maplen = cpumap_from_idset(&act->cpus, map);
        if (maplen < 0)
                return -EINVAL;

        /* All or nothing: remember the emulator's pin, and the IOThreads' (their info carries
         * it), so a failure halfway puts everything back. */
        saved = emulator_pin_save(dom, &saved_len);
        n = virDomainGetIOThreadInfo(dom, &info, VIR_DOMAIN_AFFECT_LIVE);
        if (n < 0) {
                /* A domain without IOThreads, or a driver that cannot list them: emulator only. */
                virResetLastError();
                n = 0;
                info = NULL;
        }

        if (virDomainPinEmulator(dom, map, maplen, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                r = libvirt_last_error(ret_error);
                goto out;
        }
        pinned++;
        /* IOThreads serve the emulator's devices: they follow it. */
        for (; moved < n; moved++) {
                if (virDomainPinIOThread(dom, info[moved]->iothread_id, map, maplen,
                                         VIR_DOMAIN_AFFECT_LIVE) < 0) {
                        r = libvirt_last_error(ret_error);
                        break;
                }
                pinned++;
        }
        if (r < 0) {
                for (int i = 0; i < moved; i++)
                        if (info[i]->cpumap && info[i]->cpumaplen > 0)
                                (void)virDomainPinIOThread(dom, info[i]->iothread_id, info[i]->cpumap,
                                                           info[i]->cpumaplen, VIR_DOMAIN_AFFECT_LIVE);
                if (saved)
                        (void)virDomainPinEmulator(dom, saved, saved_len, VIR_DOMAIN_AFFECT_LIVE);
                virResetLastError();
                pinned = 0;
        }
out:
        for (int i = 0; i < n; i++)
                virDomainIOThreadInfoFree(info[i]);
        free(info);
        if (result)
                result->threads_pinned = pinned;
        return r;
}

int libvirt_actuator_apply(virDomainPtr dom, const struct action *act, const struct guest_model *model,
                           struct actuator_result *result, char **ret_error)
{
        if (result)
                *result = (struct actuator_result){0};
        if (!dom || !act)
                return -EINVAL;

        switch (act->type) {
        case ACTION_PIN_VCPUS:
                return pin_vcpus(dom, act, model, result, ret_error);
        case ACTION_PIN_EMULATOR:
                return pin_emulator(dom, act, result, ret_error);
        case ACTION_SET_HOME:
                return 0;
        case ACTION_MIGRATE:
        case ACTION_SET_REGION_POLICY:
                /* No live per-cell memory API in libvirt (see the header): the direct actuator does it. */
                return -EOPNOTSUPP;
        default:
                return -EINVAL;
        }
}
