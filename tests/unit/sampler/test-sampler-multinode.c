/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sampler on a real multi-node host (the lab: contrib/lab/lab run --nodes 2 -- THIS):
 * chunks placed on two nodes with move_pages are reported on those nodes, actuator feedback
 * shows a move before the window comes round, and with numa_balancing=1 the kernel's hinting
 * faults of the "vCPU" thread show up in access[]. Skipped (77) on a one-node machine.
 * (numaif.h, not numa.h: libnuma's nodemask_t clashes with the one of vnuma/snapshot.h.) */
#include <check.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "../test-util.h"
#include "sampler-select.h"
#include "vnuma/sampler/sampler.h"

#define MiB      (UINT64_C(1) << 20)
#define CHUNK    (2 * MiB)
#define SIZE     (16 * MiB)
#define N_CHUNKS (SIZE / CHUNK)

struct multi {
        void *base;
        char *mem;
        struct guest_region region;
        struct guest_cell cell;
        struct guest_vcpu vcpu;
        struct guest_model model;
        struct sampler_vm vm;
        struct host_topology *topo;
        struct sampler *sampler;
        int a, b; /* kernel ids of the first two nodes with memory */
};

static void multi_setup(struct multi *m, enum sampler_kind kind, uint64_t window, pid_t vcpu_tid)
{
        struct sampler_config cfg;

        *m = (struct multi){};
        m->base = mmap(NULL, SIZE + CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(m->base, MAP_FAILED);
        m->mem = (char *)(((uintptr_t)m->base + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1));
        ck_assert_int_eq(madvise(m->mem, SIZE, MADV_NOHUGEPAGE), 0);
        memset(m->mem, 1, SIZE);

        ck_assert_int_eq(host_topology_read(NULL, &m->topo), 0);
        ck_assert_uint_ge(m->topo->n_nodes, 2);
        m->a = m->topo->nodes[0].id;
        m->b = m->topo->nodes[1].id;

        m->region =
                (struct guest_region){.size_bytes = SIZE, .page_size = 4096, .hva_start = (uintptr_t)m->mem};
        m->cell = (struct guest_cell){.id = 0, .size_bytes = SIZE, .n_regions = 1, .regions = &m->region};
        m->vcpu = (struct guest_vcpu){.index = 0, .tid = vcpu_tid, .cell = 0};
        m->model = (struct guest_model){
                .pid = getpid(), .n_cells = 1, .cells = &m->cell, .n_vcpus = 1, .vcpus = &m->vcpu};
        m->vm = (struct sampler_vm){.id = 1, .name = "self", .model = &m->model};
        vm_policy_init(&m->vm.policy);
        sampler_config_init(&cfg);
        cfg.kind = kind;
        cfg.window_bytes = window;
        cfg.chunk_bytes = CHUNK;
        ck_assert_int_eq(sampler_new(&cfg, &m->sampler), 0);
}

static void multi_teardown(struct multi *m)
{
        sampler_free(m->sampler);
        host_topology_free(m->topo);
        munmap(m->base, SIZE + CHUNK);
}

/* Moves [offset, offset + len) of the region to node with move_pages(2), checking every page. */
static void move_to(struct multi *m, uint64_t offset, uint64_t len, int node)
{
        size_t n = len / 4096;
        _cleanup_free_ void **pages = calloc(n, sizeof(void *));
        _cleanup_free_ int *nodes = calloc(n, sizeof(int)), *status = calloc(n, sizeof(int));

        ck_assert(pages && nodes && status);
        for (size_t i = 0; i < n; i++) {
                pages[i] = m->mem + offset + i * 4096;
                nodes[i] = node;
        }
        ck_assert_int_eq(move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE), 0);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(status[i], node);
}

static struct snapshot *sense(struct multi *m, uint64_t period)
{
        struct snapshot *s = NULL;
        const struct sampler_issue *issues;

        ck_assert_int_eq(sampler_sense(m->sampler, m->topo, &m->vm, 1, period, 500000000, &s), 0);
        ck_assert_uint_eq(sampler_issues(m->sampler, &issues), 0);
        ck_assert_uint_eq(s->n_vms, 1);
        return s;
}

START_TEST(test_multinode_residency)
{
        struct multi m;
        struct snapshot *s;
        const struct snap_cell *c;
        int pa, pb;

        multi_setup(&m, SAMPLER_RESIDENCY, SIZE, gettid());
        pa = host_topology_node_index(m.topo, m.a);
        pb = host_topology_node_index(m.topo, m.b);
        move_to(&m, 0, SIZE / 2, m.a);
        move_to(&m, SIZE / 2, SIZE / 2, m.b);

        s = sense(&m, 1);
        c = &s->vms[0].cells[0];
        ck_assert_uint_eq(c->n_chunks, N_CHUNKS);
        for (unsigned i = 0; i < N_CHUNKS; i++)
                ck_assert_int_eq(c->chunks[i].node, i < N_CHUNKS / 2 ? pa : pb);
        ck_assert_uint_eq(c->resident_bytes[pa], SIZE / 2);
        ck_assert_uint_eq(c->resident_bytes[pb], SIZE / 2);
        ck_assert_uint_eq(c->not_present_bytes, 0);
        snapshot_free(s);

        /* Three quarters of chunk 1 to node b: its majority flips, the bytes stay with the chunk. */
        move_to(&m, CHUNK + CHUNK / 4, CHUNK * 3 / 4, m.b);
        s = sense(&m, 2);
        c = &s->vms[0].cells[0];
        ck_assert_int_eq(c->chunks[1].node, pb);
        ck_assert_uint_eq(c->resident_bytes[pa], SIZE / 2 - CHUNK);
        ck_assert_uint_eq(c->resident_bytes[pb], SIZE / 2 + CHUNK);
        snapshot_free(s);
        multi_teardown(&m);
}
END_TEST

START_TEST(test_multinode_note_moved)
{
        struct multi m;
        struct snapshot *s;
        const struct snap_cell *c;
        int pa, pb;

        /* A 2-chunk window: a full pass takes 4 periods. */
        multi_setup(&m, SAMPLER_RESIDENCY, 2 * CHUNK, gettid());
        pa = host_topology_node_index(m.topo, m.a);
        pb = host_topology_node_index(m.topo, m.b);
        move_to(&m, 0, SIZE, m.a);
        for (uint64_t period = 1; period <= 4; period++)
                snapshot_free(sense(&m, period));

        /* The actuator moves chunk 6 and tells the sampler; the window is at chunks 0-1. */
        move_to(&m, 6 * CHUNK, CHUNK, m.b);
        ck_assert_int_eq(sampler_note_moved(m.sampler, 1, 0, 6 * CHUNK, CHUNK, m.b), 0);
        s = sense(&m, 5);
        c = &s->vms[0].cells[0];
        ck_assert_uint_eq(c->chunks[0].offset, 0);
        ck_assert_uint_eq(c->resident_bytes[pa], SIZE - CHUNK);
        ck_assert_uint_eq(c->resident_bytes[pb], CHUNK);
        snapshot_free(s);
        multi_teardown(&m);
}
END_TEST

struct toucher {
        char *mem;
        cpu_set_t cpus;
        atomic_bool stop;
        atomic_int tid;
};

static void *touch_loop(void *p)
{
        struct toucher *t = p;

        (void)sched_setaffinity(0, sizeof(t->cpus), &t->cpus);
        atomic_store(&t->tid, (int)gettid());
        while (!atomic_load(&t->stop))
                for (size_t off = 0; off < SIZE; off += 4096)
                        ((volatile char *)t->mem)[off]++;
        return NULL;
}

START_TEST(test_multinode_hinting)
{
        struct sampler_caps caps;
        struct toucher t = {};
        struct multi m;
        pthread_t thread;
        uint64_t total = 0;

        ck_assert_int_eq(sampler_caps_read(NULL, NULL, false, &caps, NULL, NULL), 0);
        if (!caps.numa_balancing || !caps.sched_numa_faults) {
                fprintf(stderr, "numa_balancing is off: hinting checks skipped\n");
                return;
        }
        /* The "vCPU" runs on the first node and writes memory that sits on the second. */
        multi_setup(&m, SAMPLER_HINTING, SIZE, 0);
        ck_assert_str_eq(sampler_describe(m.sampler), "residency+hinting");
        move_to(&m, 0, SIZE, m.b);
        t.mem = m.mem;
        CPU_ZERO(&t.cpus);
        IDSET_FOREACH (cpu, &m.topo->nodes[0].cpus)
                CPU_SET(cpu, &t.cpus);
        ck_assert_int_eq(pthread_create(&thread, NULL, touch_loop, &t), 0);
        while (atomic_load(&t.tid) == 0)
                sched_yield();
        m.vcpu.tid = atomic_load(&t.tid);

        /* The kernel scans after numa_balancing_scan_delay_ms (1 s) and then every pass; poll. */
        for (uint64_t period = 1; period <= 40 && total == 0; period++) {
                struct snapshot *s = sense(&m, period);
                const struct snap_cell *c = &s->vms[0].cells[0];

                for (unsigned h = 0; h < s->host.n_nodes; h++)
                        total += c->access[h];
                if (period == 1)
                        ck_assert_uint_eq(total, 0); /* the baseline */
                snapshot_free(s);
                if (total == 0)
                        usleep(500000);
        }
        atomic_store(&t.stop, true);
        pthread_join(thread, NULL);
        ck_assert_msg(total > 0, "no hinting faults of the vCPU thread within 20 s");
        fprintf(stderr, "hinting faults seen: %llu\n", (unsigned long long)total);
        multi_teardown(&m);
}
END_TEST

int main(void)
{
        struct host_topology *topo = NULL;
        Suite *suite;
        TCase *tc;
        SRunner *sr;
        int failed;

        if (host_topology_read(NULL, &topo) < 0 || topo->n_nodes < 2 ||
            idset_is_empty(&topo->nodes[0].cpus)) {
                fprintf(stderr, "fewer than two NUMA nodes here: skipped (run it in contrib/lab)\n");
                host_topology_free(topo);
                return 77;
        }
        host_topology_free(topo);
        suite = suite_create("sampler-multinode");
        tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_multinode_residency);
        tcase_add_test(tc, test_multinode_note_moved);
        tcase_add_test(tc, test_multinode_hinting);
        suite_add_tcase(suite, tc);
        sr = srunner_create(suite);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
