/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sampler on a real process: this test's own memory described as a one-cell guest (pid =
 * getpid(), vCPU = this thread). The window advances and wraps, the chunk map converges to what
 * was touched, a dead "QEMU" (a forked child) and a vanished vCPU thread are reported instead of
 * failing the sense, and soft-dirty marks the written chunks where the kernel supports it. */
#include <check.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test-util.h"
#include "sampler-select.h"
#include "sampler-settled.h"
#include "sampler-softdirty.h"
#include "vnuma/sampler/sampler.h"

#define MiB   (UINT64_C(1) << 20)
#define CHUNK (2 * MiB)
#define SIZE  (64 * MiB)

struct live {
        void *base;
        size_t total;
        char *mem;
        struct guest_region region;
        struct guest_cell cell;
        struct guest_vcpu vcpu;
        struct guest_model model;
        struct sampler_vm vm;
        struct host_topology *topo;
        struct sampler *sampler;
};

static void touch(char *p, size_t len)
{
        for (size_t off = 0; off < len; off += 4096)
                ((volatile char *)p)[off] = 1;
}

static void live_setup(struct live *l, enum sampler_kind kind, uint64_t window, size_t touched)
{
        struct sampler_config cfg;
        uintptr_t aligned;

        *l = (struct live){.total = SIZE + CHUNK};
        l->base = mmap(NULL, l->total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(l->base, MAP_FAILED);
        aligned = ((uintptr_t)l->base + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1);
        l->mem = (char *)aligned;
        /* 4 KiB pages only, so "touched" is exact and soft-dirty is per small page. */
        ck_assert_int_eq(madvise(l->mem, SIZE, MADV_NOHUGEPAGE), 0);
        touch(l->mem, touched);

        l->region = (struct guest_region){
                .backend_id = (char *)"m0",
                .kind = BACKEND_RAM,
                .size_bytes = SIZE,
                .page_size = 4096,
                .hva_start = (uint64_t)aligned,
        };
        l->cell = (struct guest_cell){.id = 0, .size_bytes = SIZE, .n_regions = 1, .regions = &l->region};
        idset_add(&l->cell.vcpus, 0);
        l->vcpu = (struct guest_vcpu){.index = 0, .tid = gettid(), .cell = 0};
        l->model = (struct guest_model){
                .name = (char *)"self",
                .pid = getpid(),
                .n_cells = 1,
                .cells = &l->cell,
                .n_vcpus = 1,
                .vcpus = &l->vcpu,
        };
        l->vm = (struct sampler_vm){.id = 1, .name = "self", .model = &l->model};
        vm_policy_init(&l->vm.policy);

        ck_assert_int_eq(host_topology_read(NULL, &l->topo), 0);
        sampler_config_init(&cfg);
        cfg.kind = kind;
        cfg.window_bytes = window;
        cfg.chunk_bytes = CHUNK;
        ck_assert_int_eq(sampler_new(&cfg, &l->sampler), 0);
}

static void live_teardown(struct live *l)
{
        sampler_free(l->sampler);
        host_topology_free(l->topo);
        munmap(l->base, l->total);
}

static struct snapshot *live_sense(struct live *l, const struct sampler_vm *vms, size_t n, uint64_t period)
{
        struct snapshot *s = NULL;
        const struct sampler_issue *issues;

        ck_assert_int_eq(sampler_sense(l->sampler, l->topo, vms, n, period, 100000000, &s), 0);
        if (n == 1 && vms == &l->vm)
                ck_assert_uint_eq(sampler_issues(l->sampler, &issues), 0);
        return s;
}

/* Checks the window of the only VM's only cell: n chunks from first_chunk on, wrapping. */
static const struct snap_cell *check_window(const struct snapshot *s, unsigned n, uint64_t first_chunk)
{
        const struct snap_cell *c;

        ck_assert_uint_eq(s->n_vms, 1);
        ck_assert_uint_eq(s->vms[0].n_cells, 1);
        c = &s->vms[0].cells[0];
        ck_assert_uint_eq(c->size_bytes, SIZE);
        ck_assert_uint_eq(c->chunk_bytes, CHUNK);
        ck_assert_uint_eq(c->n_chunks, n);
        for (unsigned i = 0; i < n; i++) {
                ck_assert_uint_eq(c->chunks[i].offset, (first_chunk + i) % (SIZE / CHUNK) * CHUNK);
                ck_assert_uint_eq(c->chunks[i].bytes, CHUNK);
        }
        return c;
}

static void spin_ms(unsigned ms)
{
        struct timespec a, b;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        do
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < (long)ms * 1000000L);
}

START_TEST(test_live_window_and_convergence)
{
        struct live l;
        const struct snap_cell *c;
        struct snapshot *s;
        uint64_t known, total;
        int self_node;

        /* 32 chunks, 12 a period, the first 24 MiB (12 chunks) touched. */
        live_setup(&l, SAMPLER_RESIDENCY, 24 * MiB, 24 * MiB);
        ck_assert_str_eq(sampler_describe(l.sampler), "residency");

        s = live_sense(&l, &l.vm, 1, 1);
        c = check_window(s, 12, 0);
        self_node = c->chunks[0].node;
        ck_assert_int_ge(self_node, 0);
        ck_assert_uint_lt((unsigned)self_node, s->host.n_nodes);
        for (unsigned i = 0; i < 12; i++)
                ck_assert_int_eq(c->chunks[i].node, self_node);
        ck_assert_uint_eq(c->resident_bytes[self_node], 24 * MiB);
        ck_assert_uint_eq(snap_cell_present_bytes(c), 24 * MiB);
        /* Unknown chunks count as not present until the window reaches them. */
        ck_assert_uint_eq(c->not_present_bytes, 40 * MiB);
        ck_assert_int_eq(sampler_vm_coverage(l.sampler, 1, &known, &total), 0);
        ck_assert_uint_eq(known, 24 * MiB);
        ck_assert_uint_eq(total, SIZE);
        /* First reading of the vCPU: a baseline, no runtime yet. */
        ck_assert_uint_eq(s->vms[0].vcpus[0].runtime_ns, 0);
        ck_assert_int_eq(s->vms[0].vcpus[0].node, self_node);
        /* Host part. */
        ck_assert_uint_eq(s->host.n_nodes, l.topo->n_nodes);
        ck_assert_uint_gt(s->host.node[0].mem_free_bytes, 0);
        ck_assert_uint_le(s->host.node[0].mem_free_bytes, s->host.node[0].mem_total_bytes);
        ck_assert(s->host.node[0].cpu_load >= 0 &&
                  s->host.node[0].cpu_load <= s->host.node[0].n_cpus + 0.01);
        ck_assert_int_eq(s->vms[0].emulator_node, self_node); /* the main thread stands in */
        snapshot_free(s);

        /* Period 2: chunks 12..23, none present; this thread burned ~20 ms of CPU. */
        spin_ms(20);
        s = live_sense(&l, &l.vm, 1, 2);
        c = check_window(s, 12, 12);
        for (unsigned i = 0; i < 12; i++)
                ck_assert_int_eq(c->chunks[i].node, -1);
        ck_assert_uint_eq(c->resident_bytes[self_node], 24 * MiB);
        ck_assert_uint_eq(c->not_present_bytes, 40 * MiB);
        ck_assert_uint_ge(s->vms[0].vcpus[0].runtime_ns, 15000000);
        ck_assert_uint_eq(c->cpu_ns[self_node], s->vms[0].vcpus[0].runtime_ns);
        snapshot_free(s);

        /* The guest frees its first 8 MiB; period 3 wraps: chunks 24..31, then 0..3. */
        ck_assert_int_eq(madvise(l.mem, 8 * MiB, MADV_DONTNEED), 0);
        s = live_sense(&l, &l.vm, 1, 3);
        c = check_window(s, 12, 24);
        ck_assert_uint_eq(c->chunks[8].offset, 0);
        for (unsigned i = 8; i < 12; i++)
                ck_assert_int_eq(c->chunks[i].node, -1);
        ck_assert_uint_eq(c->resident_bytes[self_node], 16 * MiB);
        ck_assert_uint_eq(c->not_present_bytes, 48 * MiB);
        ck_assert_int_eq(sampler_vm_coverage(l.sampler, 1, &known, &total), 0);
        ck_assert_uint_eq(known, SIZE);
        snapshot_free(s);

        /* Every chunk has been seen and all memory is where the vCPU runs: the VM is settled,
         * and its windows come 2, then 4 periods apart (period 4, 6, 10), the cells keeping the
         * map's residency in between. It touches chunk 30; the map shows it once a window comes
         * round to it (period 10: chunks 28..31, 0..7). */
        touch(l.mem + 60 * MiB, 2 * MiB);
        for (uint64_t period = 4, first = 4; period <= 10; period++) {
                bool scanned = period == 4 || period == 6 || period == 10;

                s = live_sense(&l, &l.vm, 1, period);
                c = check_window(s, scanned ? 12 : 0, first);
                ck_assert_uint_eq(c->resident_bytes[self_node], period < 10 ? 16 * MiB : 18 * MiB);
                snapshot_free(s);
                if (scanned)
                        first = (first + 12) % 32;
        }

        /* Actuator feedback: unknown VM or cell. */
        ck_assert_int_eq(sampler_note_moved(l.sampler, 1, 1, 0, CHUNK, 0), -ENOENT);
        ck_assert_int_eq(sampler_note_moved(l.sampler, 2, 0, 0, CHUNK, 0), -ENOENT);
        ck_assert_int_eq(sampler_note_moved(l.sampler, 1, 0, 0, CHUNK, self_node), 0);
        live_teardown(&l);
}
END_TEST

START_TEST(test_live_gone_and_stale)
{
        struct live l;
        struct guest_vcpu child_vcpu;
        struct guest_model child_model;
        struct sampler_vm vms[2];
        const struct sampler_issue *issues;
        struct snapshot *s;
        siginfo_t info;
        pid_t child;

        live_setup(&l, SAMPLER_RESIDENCY, SIZE, 4 * MiB);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        /* The child inherited the mapping at the same address: a second "QEMU". */
        child_vcpu = (struct guest_vcpu){.index = 0, .tid = child, .cell = 0};
        child_model = l.model;
        child_model.pid = child;
        child_model.vcpus = &child_vcpu;
        vms[0] = l.vm;
        vms[1] = (struct sampler_vm){.id = 2, .name = "child", .model = &child_model};
        vm_policy_init(&vms[1].policy);

        s = live_sense(&l, vms, 2, 1);
        ck_assert_uint_eq(sampler_issues(l.sampler, &issues), 0);
        ck_assert_uint_eq(s->n_vms, 2);
        ck_assert_uint_eq(s->vms[1].id, 2);
        ck_assert_uint_eq(s->vms[1].cells[0].n_chunks, 32);
        snapshot_free(s);

        /* QEMU dies: as a zombie its parent has not reaped yet, then for good. Both times it is
         * reported gone, and the other VM is still sensed. */
        ck_assert_int_eq(kill(child, SIGKILL), 0);
        ck_assert_int_eq(waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT), 0);
        for (int reaped = 0; reaped < 2; reaped++) {
                if (reaped)
                        ck_assert_int_eq(waitpid(child, NULL, 0), child);
                s = live_sense(&l, vms, 2, 2 + (uint64_t)reaped);
                ck_assert_uint_eq(s->n_vms, 1);
                ck_assert_uint_eq(s->vms[0].id, 1);
                ck_assert_uint_eq(sampler_issues(l.sampler, &issues), 1);
                ck_assert_uint_eq(issues[0].vm_id, 2);
                ck_assert_msg(issues[0].kind == SAMPLER_ISSUE_GONE, "reaped=%d: %s: %s", reaped,
                              sampler_issue_kind_to_string(issues[0].kind), issues[0].message);
                snapshot_free(s);
        }
        sampler_forget_vm(l.sampler, 2);

        /* A vCPU thread that is not (any more) in our process: the model is stale. */
        l.vcpu.tid = child;
        s = live_sense(&l, vms, 1, 4);
        ck_assert_uint_eq(s->n_vms, 0);
        ck_assert_uint_eq(sampler_issues(l.sampler, &issues), 1);
        ck_assert_int_eq(issues[0].kind, SAMPLER_ISSUE_STALE);
        ck_assert_int_eq(issues[0].error, -ENOENT);
        snapshot_free(s);
        live_teardown(&l);
}
END_TEST

static void pin_to_cpu(int cpu)
{
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
}

/* A CPU of another node than HOME's, -1 on a one-node host. */
static int cpu_on_other_node(const struct host_topology *t, int home)
{
        int node = host_topology_node_of_cpu(t, home);

        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
                int n = host_topology_node_of_cpu(t, cpu);
                if (n >= 0 && n != node)
                        return cpu;
        }
        return -1;
}

/* Bit 55 of this process's pagemap entry for ADDR, by the test's own read of the kernel's file. */
static bool self_soft_dirty(const void *addr)
{
        uint64_t entry = 0;
        int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)addr / 4096 * 8)),
                         (ssize_t)sizeof(entry));
        close(fd);
        return entry >> 55 & 1;
}

START_TEST(test_live_soft_dirty)
{
        struct sampler_config cfg;
        struct sampler *sampler = NULL;
        struct sampler_caps caps;
        const struct snap_cell *c;
        struct snapshot *s;
        bool works = false;
        int home_cpu, away_cpu;
        cpu_set_t all;
        struct live l;

        ck_assert_int_eq(soft_dirty_probe(NULL, &works), 0);
        if (!works) {
                /* CONFIG_MEM_SOFT_DIRTY off (this machine's kernel, for one): asking for it fails
                 * cleanly, and auto does not pick it. */
                sampler_config_init(&cfg);
                cfg.kind = SAMPLER_SOFT_DIRTY;
                ck_assert_int_eq(sampler_new(&cfg, &sampler), -EOPNOTSUPP);
                ck_assert_int_eq(sampler_caps_read(NULL, NULL, true, &caps, NULL, NULL), 0);
                ck_assert(!caps.soft_dirty);
                cfg.kind = SAMPLER_AUTO;
                ck_assert_int_eq(sampler_new(&cfg, &sampler), 0);
                ck_assert(!(sampler_flags(sampler) & SAMPLER_USE_SOFT_DIRTY));
                sampler_free(sampler);
                fprintf(stderr,
                        "soft-dirty is not supported by this kernel: live soft-dirty checks skipped\n");
                return;
        }

        /* The "vCPU" (this thread) stays on one CPU, so the memory it touches is on its node. */
        ck_assert_int_ge(home_cpu = sched_getcpu(), 0);
        pin_to_cpu(home_cpu);
        live_setup(&l, SAMPLER_SOFT_DIRTY, SIZE, 8 * MiB);
        ck_assert_str_eq(sampler_describe(l.sampler), "residency+soft-dirty");
        /* Period 1 has no earlier clear to compare with: no hotness; it clears. */
        s = live_sense(&l, &l.vm, 1, 1);
        c = check_window(s, 32, 0);
        for (unsigned i = 0; i < 32; i++)
                ck_assert_uint_eq(c->chunks[i].hotness, 0);
        snapshot_free(s);

        /* Written after the clear: chunk 2 fully, chunk 5 half, chunk 20 (never touched) a page. */
        touch(l.mem + 2 * CHUNK, CHUNK);
        touch(l.mem + 5 * CHUNK, CHUNK / 2);
        touch(l.mem + 20 * CHUNK, 4096);
        /* Periods 2 and 4 scan (a settled VM is scanned 2 periods apart), 3 does not. All
         * memory is where the vCPU runs: nothing to move, no clear (each clear makes every next
         * write fault), so the kernel keeps the bits and period 4 sees the same as period 2. */
        for (uint64_t period = 2; period <= 4; period++) {
                s = live_sense(&l, &l.vm, 1, period);
                c = check_window(s, period == 3 ? 0 : 32, 0);
                for (unsigned i = 0; period != 3 && i < 32; i++) {
                        uint32_t want = i == 2 ? 512 : i == 5 ? 256 : i == 20 ? 1 : 0;
                        ck_assert_msg(c->chunks[i].hotness == want,
                                      "period %llu chunk %u: hotness %u, expected %u",
                                      (unsigned long long)period, i, c->chunks[i].hotness, want);
                }
                if (period != 3)
                        ck_assert_uint_eq(c->access[c->chunks[2].node], 512 + 256 + 1);
                snapshot_free(s);
                ck_assert_msg(self_soft_dirty(l.mem + 2 * CHUNK), "period %llu cleared local memory",
                              (unsigned long long)period);
        }

        /* The vCPU moves to another node's CPU: its memory is remote now, the next period clears. */
        away_cpu = cpu_on_other_node(l.topo, home_cpu);
        if (away_cpu < 0) {
                fprintf(stderr, "one node: the clear after a vCPU moved away is not checked\n");
        } else {
                pin_to_cpu(away_cpu);
                spin_ms(20);
                snapshot_free(live_sense(&l, &l.vm, 1, 5));
                ck_assert_msg(!self_soft_dirty(l.mem + 2 * CHUNK), "remote memory was not cleared");
                s = live_sense(&l, &l.vm, 1, 6);
                c = check_window(s, 32, 0);
                for (unsigned i = 0; i < 32; i++)
                        ck_assert_uint_eq(c->chunks[i].hotness, 0);
                snapshot_free(s);
        }
        live_teardown(&l);
        CPU_ZERO(&all);
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
                CPU_SET(cpu, &all);
        (void)sched_setaffinity(0, sizeof(all), &all);
}
END_TEST

START_TEST(test_settled_rules)
{
        /* Settled: 9 in 10 bytes where the vCPUs are, and something to judge by. */
        ck_assert(!vm_memory_settled(0, 0));
        ck_assert(vm_memory_settled(90, 100));
        ck_assert(vm_memory_settled(100, 100));
        ck_assert(!vm_memory_settled(89, 100));
        ck_assert(!vm_memory_settled(0, 1));
        /* Settled VMs are scanned half as often each time, up to the cap; unsettled every period. */
        ck_assert_uint_eq(scan_next_interval(0, true), 2);
        ck_assert_uint_eq(scan_next_interval(4, true), 8);
        ck_assert_uint_eq(scan_next_interval(SCAN_INTERVAL_MAX, true), SCAN_INTERVAL_MAX);
        ck_assert_uint_eq(scan_next_interval(16, false), 1);
}
END_TEST

/* Scenario b of the lab benchmark: cell 0's busy vCPU on node 0 with all its memory, cell 1's
 * idle vCPU waking on node 1 (spilled there) while its memory stays on node 0. A cell counts as
 * much as its vCPUs run: the VM is settled (by bytes it was half local, and the window scan and
 * soft-dirty clears never backed off: 25 s of CPU in 150 s). With both cells equally busy, the
 * remote cell does unsettle it. */
START_TEST(test_locality_weighs_cells_by_run_time)
{
        struct snap_cell cells[2] = {};
        struct snap_vcpu vcpus[2] = {{.index = 0, .cell = 0, .node = 0}, {.index = 1, .cell = 1, .node = 1}};
        struct snap_vm vm = {.n_cells = 2, .cells = cells, .n_vcpus = 2, .vcpus = vcpus};
        double local, total;

        cells[0].resident_bytes[0] = cells[1].resident_bytes[0] = 192 << 20;
        cells[0].cpu_ns[0] = 1000000000;
        cells[1].cpu_ns[1] = 30000000;
        vm_memory_locality(&vm, &local, &total);
        ck_assert(vm_memory_settled(local, total));
        cells[1].cpu_ns[1] = 1000000000;
        vm_memory_locality(&vm, &local, &total);
        ck_assert(!vm_memory_settled(local, total));
        /* No vCPU ran: bytes on the nodes they were last on (cell 1's are remote). */
        cells[0].cpu_ns[0] = cells[1].cpu_ns[1] = 0;
        vm_memory_locality(&vm, &local, &total);
        ck_assert(!vm_memory_settled(local, total));
        vcpus[1].node = 0;
        vm_memory_locality(&vm, &local, &total);
        ck_assert(vm_memory_settled(local, total));
}
END_TEST

TEST_MAIN("sampler-live", test_live_window_and_convergence, test_live_gone_and_stale, test_live_soft_dirty,
          test_settled_rules, test_locality_weighs_cells_by_run_time)
