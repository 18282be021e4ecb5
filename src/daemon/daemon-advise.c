/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* advise: where a guest about to start should go (vnumactl advise, numad's -w), answered from the
 * last period's snapshot and the planner's ledger. Nothing is read here: the event loop stays free. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>

#include "daemon.h"
#include "vnuma/basic/error-message.h"
#include "vnuma/basic/json-util.h"
#include "vnuma/basic/log.h"
#include "vnuma/policies/policy-advise.h"

#define ADVISE_VCPUS_MAX   4096
#define ADVISE_MEM_MIB_MAX (UINT64_C(1) << 32)  /* 4 PiB */
#define ADVISE_LOAD_TAU_NS UINT64_C(5000000000) /* time constant of the advice's load average */

/* The advice places a guest for its whole life, so one period's burst on a node (a short-lived
 * command, vnumad's own scan) must not decide it: the lab saw an idle node measure a full CPU for
 * one 0.5 s period and the advice flip to the node a busy guest occupies. The planner has
 * hysteresis for that; the advice gets the ledger's load averaged over about 5 s instead. */
void daemon_advise_note_period(struct daemon *d)
{
        const struct snapshot *s = engine_last_snapshot(d->engine);
        const struct policy_state *st = engine_policy_state(d->engine);
        double a;

        if (!s || !st || s->host.n_nodes == 0 || s->host.n_nodes > SNAP_NODES_MAX)
                return;
        if (d->advise_load_nodes != s->host.n_nodes) {
                for (unsigned i = 0; i < s->host.n_nodes; i++)
                        d->advise_load[i] = st->ledger.cpu_load[i];
                d->advise_load_nodes = s->host.n_nodes;
                return;
        }
        a = (double)s->period_ns / (double)(s->period_ns + ADVISE_LOAD_TAU_NS);
        for (unsigned i = 0; i < s->host.n_nodes; i++)
                d->advise_load[i] += a * (st->ledger.cpu_load[i] - d->advise_load[i]);
}

/* What the advice was computed from, per node: the averaged load and the free memory (with the
 * planner's commitments), next to the last period's ledger load and measured load. */
static void log_ledger(const struct snapshot *s, const struct policy_ledger *l,
                       const struct policy_ledger *last)
{
        char text[1024];
        size_t n = 0;

        if (log_get_max_level() < LOG_DEBUG)
                return;
        text[0] = '\0';
        for (unsigned i = 0; i < s->host.n_nodes && n < sizeof(text); i++)
                n += (size_t)snprintf(
                        text + n, sizeof(text) - n,
                        "%snode %d: load %.2f (last period %.2f, measured %.2f) of %u CPUs, %" PRId64
                        " MiB free",
                        i ? "; " : "", s->host.node[i].id, l->cpu_load[i], last->cpu_load[i],
                        s->host.node[i].cpu_load, s->host.node[i].n_cpus, l->mem_free[i] >> 20);
        log_debug("advise: from %s.", text);
}

int daemon_cmd_advise(void *userdata, struct json_object *args, bool may_write, struct json_object **ret,
                      char **ret_error)
{
        struct daemon *d = userdata;
        const struct snapshot *s = engine_last_snapshot(d->engine);
        struct policy_state *st = engine_policy_state(d->engine);
        struct json_object *o;
        uint64_t vcpus = 0, mib = 0;
        struct advise_request req;
        struct policy_ledger ledger;
        nodemask_t m;
        char set[256];
        int r;

        if (json_member_uint64(args, "vcpus", &vcpus) < 0 || vcpus == 0 || vcpus > ADVISE_VCPUS_MAX)
                return error_message(ret_error, -EINVAL, "\"vcpus\" must be an integer from 1 to %d",
                                     ADVISE_VCPUS_MAX);
        r = json_member_uint64(args, "mem_mib", &mib);
        if ((r < 0 && r != -ENOENT) || mib > ADVISE_MEM_MIB_MAX)
                return error_message(ret_error, -EINVAL, "\"mem_mib\" must be an integer from 0 to %" PRIu64,
                                     ADVISE_MEM_MIB_MAX);
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        if (!s || !st) {
                /* No period yet: nothing measured. The client reads the host itself. */
                json_object_object_add(o, "nodeset", NULL);
                *ret = o;
                return 0;
        }
        req = (struct advise_request){.vcpus = (unsigned)vcpus, .mem_bytes = mib << 20};
        ledger = st->ledger;
        if (d->advise_load_nodes == s->host.n_nodes)
                for (unsigned i = 0; i < s->host.n_nodes; i++)
                        ledger.cpu_load[i] = d->advise_load[i];
        r = policy_advise(&s->host, &ledger, engine_params(d->engine), &req, &m);
        if (r == -ENOSPC) {
                json_object_put(o);
                log_notice("advise: %" PRIu64 " vCPUs, %" PRIu64 " MiB: no set of nodes has the memory "
                           "(period %" PRIu64 ").",
                           vcpus, mib, s->period);
                return error_message(ret_error, r, "no set of host nodes has %" PRIu64 " MiB free", mib);
        }
        if (r >= 0)
                r = policy_advise_format(&s->host, m, set, sizeof(set));
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        log_info("advise: %" PRIu64 " vCPUs, %" PRIu64 " MiB -> nodes %s (period %" PRIu64 ").", vcpus, mib,
                 set, s->period);
        log_ledger(s, &ledger, &st->ledger);
        json_object_object_add(o, "nodeset", json_object_new_string(set));
        json_object_object_add(o, "period", json_object_new_uint64(s->period));
        *ret = o;
        return 0;
}
