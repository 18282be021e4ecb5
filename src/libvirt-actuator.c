/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pins through libvirt (virDomainPinVcpuFlags, virDomainPinEmulator, virDomainPinIOThread). */

#include "vnuma/libvirt-actuator.h"

#include "vnuma/libvirt-error.h"

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

static int pin_emulator(virDomainPtr dom, const struct action *act, struct actuator_result *result,
                        char **ret_error)
{
        unsigned char map[VIR_CPU_MAPLEN(IDSET_MAX)];
        virDomainIOThreadInfoPtr *info = NULL;
        unsigned pinned = 0;
        int maplen, n, r = 0;

        maplen = cpumap_from_idset(&act->cpus, map);
        if (maplen < 0)
                return -EINVAL;
        if (virDomainPinEmulator(dom, map, maplen, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return libvirt_last_error(ret_error);
        pinned++;

        /* IOThreads serve the emulator's devices: they follow it. A domain without any is fine. */
        n = virDomainGetIOThreadInfo(dom, &info, VIR_DOMAIN_AFFECT_LIVE);
        if (n < 0) {
                virResetLastError();
                n = 0;
        }
        for (int i = 0; i < n; i++) {
                if (r == 0 &&
                    virDomainPinIOThread(dom, info[i]->iothread_id, map, maplen, VIR_DOMAIN_AFFECT_LIVE) < 0)
                        r = libvirt_last_error(ret_error);
                else if (r == 0)
                        pinned++;
                virDomainIOThreadInfoFree(info[i]);
        }
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
