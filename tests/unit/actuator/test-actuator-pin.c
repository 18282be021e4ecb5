/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pins on real threads of this process: the guest model describes the test itself. */
#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../test-util.h"
#include "actuator-internal.h"
#include "actuator-test.h"
#include "vnuma/actuator/actuator.h"

struct pin_env {
        struct test_thread t[3];
        struct guest_vcpu vcpus[3];
        struct guest_thread emu;
        struct guest_model model;
        struct actuator_vm vm;
        struct idset online;
};

static void env_start(struct pin_env *e)
{
        *e = (struct pin_env){};
        e->online = test_online_cpus();
        /* A known start: the whole process may run anywhere online. */
        test_set_affinity(getpid(), &e->online);
        for (int i = 0; i < 3; i++) {
                test_thread_start(&e->t[i]);
                e->vcpus[i] = (struct guest_vcpu){.index = i, .tid = e->t[i].tid, .cell = 0};
        }
        e->emu = (struct guest_thread){
                .tid = getpid(), .kind = GUEST_THREAD_EMULATOR, .name = (char *)"main"};
        e->model = (struct guest_model){
                .name = (char *)"self",
                .pid = getpid(),
                .n_vcpus = 3,
                .vcpus = e->vcpus,
                .n_threads = 1,
                .threads = &e->emu,
        };
        e->vm = (struct actuator_vm){.id = 7, .model = &e->model};
}

static void env_stop(struct pin_env *e)
{
        for (int i = 0; i < 3; i++)
                test_thread_stop(&e->t[i]);
        test_set_affinity(getpid(), &e->online);
}

static struct action pin_action(enum action_type type, const int *vcpus, size_t n_vcpus, int cpu)
{
        struct action a = {.type = type, .vm_id = 7, .cell = type == ACTION_PIN_VCPUS ? 0 : -1};

        for (size_t i = 0; i < n_vcpus; i++)
                idset_add(&a.vcpus, vcpus[i]);
        idset_add(&a.cpus, cpu);
        return a;
}

static struct actuator *new_actuator(const char *sysfs_root)
{
        struct actuator_config cfg;
        struct actuator *a = NULL;

        actuator_config_init(&cfg);
        cfg.sysfs_root = sysfs_root;
        ck_assert_int_eq(actuator_new(&cfg, &a), 0);
        return a;
}

START_TEST(test_pin_vcpus_first_and_last_cpu)
{
        struct pin_env e;
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(NULL);
        const int vcpus[] = {0, 1};
        struct actuator_result res;
        struct action act;
        int first, last;

        env_start(&e);
        first = idset_next(&e.online, 0);
        last = test_last_id(&e.online);

        act = pin_action(ACTION_PIN_VCPUS, vcpus, 2, first);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        ck_assert_uint_eq(res.threads_pinned, 2);
        struct idset want = test_idset_of(first);
        struct idset got0 = test_affinity(e.t[0].tid), got1 = test_affinity(e.t[1].tid);
        ck_assert(idset_equal(&got0, &want));
        ck_assert(idset_equal(&got1, &want));
        /* vCPU 2 was not named: untouched. */
        struct idset got2 = test_affinity(e.t[2].tid);
        ck_assert(idset_equal(&got2, &e.online));

        act = pin_action(ACTION_PIN_VCPUS, vcpus, 2, last);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        want = test_idset_of(last);
        got0 = test_affinity(e.t[0].tid);
        ck_assert(idset_equal(&got0, &want));

        const char *lines[4];
        ck_assert_uint_eq(actuator_recorded(a, lines, 4), 2);
        ck_assert_ptr_nonnull(strstr(lines[1], "pin-vcpus vm 7 cell 0: threads "));
        ck_assert_ptr_nonnull(strstr(lines[1], ": ok"));
        env_stop(&e);
}
END_TEST

START_TEST(test_pin_offline_cpu_changes_nothing)
{
        struct pin_env e;
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(NULL);
        const int vcpus[] = {0, 1};
        struct actuator_result res;
        struct action act;

        env_start(&e);
        act = pin_action(ACTION_PIN_VCPUS, vcpus, 2, test_last_id(&e.online) + 1);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -EINVAL);
        ck_assert_uint_eq(res.threads_pinned, 0);
        for (int i = 0; i < 2; i++) {
                struct idset got = test_affinity(e.t[i].tid);
                ck_assert(idset_equal(&got, &e.online));
        }
        /* An empty CPU set is refused the same way. */
        act.cpus = IDSET_EMPTY;
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -EINVAL);
        env_stop(&e);
}
END_TEST

/* CPUs online are read below sysfs_root: a tree where only CPU 0 is online refuses CPU 1. */
START_TEST(test_pin_online_from_sysfs_root)
{
        static const char *const dirs[] = {"devices", "devices/system", "devices/system/cpu"};
        _cleanup_free_ char *root = NULL;
        char path[128];
        struct pin_env e;
        const int vcpus[] = {0};
        struct action act;
        int fd;

        ck_assert_int_eq(test_make_tmpdir("vnuma-pin", &root), 0);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
                ck_assert_int_eq(mkdir(path, 0755), 0);
        }
        snprintf(path, sizeof(path), "%s/devices/system/cpu/online", root);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "0\n", 2), 2);
        close(fd);

        struct actuator *a = new_actuator(root);
        env_start(&e);
        act = pin_action(ACTION_PIN_VCPUS, vcpus, 1, 1);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, NULL), -EINVAL);
        act = pin_action(ACTION_PIN_VCPUS, vcpus, 1, 0);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, NULL), 0);
        struct idset want = test_idset_of(0), got = test_affinity(e.t[0].tid);
        ck_assert(idset_equal(&got, &want));
        env_stop(&e);
        actuator_free(a);

        ck_assert_int_eq(unlink(path), 0);
        for (size_t i = ELEMENTSOF(dirs); i-- > 0;) {
                snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
                ck_assert_int_eq(rmdir(path), 0);
        }
        ck_assert_int_eq(rmdir(root), 0);
}
END_TEST

START_TEST(test_pin_exited_thread_is_esrch)
{
        struct pin_env e;
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(NULL);
        const int vcpus[] = {0, 2};
        struct actuator_result res;
        struct action act;

        env_start(&e);
        test_thread_stop(&e.t[2]); /* vCPU 2's thread is gone; the model still names it */
        act = pin_action(ACTION_PIN_VCPUS, vcpus, 2, idset_next(&e.online, 0));
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -ESRCH);
        ck_assert_uint_eq(res.threads_pinned, 0);
        struct idset got = test_affinity(e.t[0].tid);
        ck_assert(idset_equal(&got, &e.online));
        env_stop(&e);
}
END_TEST

START_TEST(test_pin_unknown_vcpu_is_enoent)
{
        struct pin_env e;
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(NULL);
        const int vcpus[] = {0, 9};
        struct action act;

        env_start(&e);
        act = pin_action(ACTION_PIN_VCPUS, vcpus, 2, idset_next(&e.online, 0));
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, NULL), -ENOENT);
        struct idset got = test_affinity(e.t[0].tid);
        ck_assert(idset_equal(&got, &e.online));
        /* A tid that is not a thread of the model's process (here: pid 1's) is refused. */
        e.vcpus[1].tid = 1;
        const int two[] = {0, 1};
        act = pin_action(ACTION_PIN_VCPUS, two, 2, idset_next(&e.online, 0));
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, NULL), -ESRCH);
        got = test_affinity(e.t[0].tid);
        ck_assert(idset_equal(&got, &e.online));
        env_stop(&e);
}
END_TEST

static unsigned fake_calls;
static int fail_second_setaffinity(pid_t tid, const cpu_set_t *mask)
{
        if (++fake_calls == 2)
                return -EPERM;
        return sched_setaffinity(tid, sizeof(*mask), mask) < 0 ? -errno : 0;
}

/* A later thread failing puts the earlier ones back: no half-applied pin. */
START_TEST(test_pin_failure_restores_earlier_threads)
{
        struct pin_env e;
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(NULL);
        const int vcpus[] = {0, 1, 2};
        struct idset before0;
        struct action act;

        env_start(&e);
        if (idset_count(&e.online) > 1) {
                /* Give thread 0 a distinct mask so "restored" is not just "all CPUs". */
                struct idset one = test_idset_of(test_last_id(&e.online));
                test_set_affinity(e.t[0].tid, &one);
        }
        before0 = test_affinity(e.t[0].tid);
        a->setaffinity = fail_second_setaffinity;
        fake_calls = 0;
        act = pin_action(ACTION_PIN_VCPUS, vcpus, 3, idset_next(&e.online, 0));
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, NULL), -EPERM);
        ck_assert_uint_eq(fake_calls, 3); /* set t0, fail t1, restore t0 */
        struct idset got0 = test_affinity(e.t[0].tid), got1 = test_affinity(e.t[1].tid),
                     got2 = test_affinity(e.t[2].tid);
        ck_assert(idset_equal(&got0, &before0));
        ck_assert(idset_equal(&got1, &e.online));
        ck_assert(idset_equal(&got2, &e.online));
        env_stop(&e);
}
END_TEST

START_TEST(test_pin_emulator_threads)
{
        struct pin_env e;
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(NULL);
        struct actuator_result res;
        struct action act;
        int cpu;

        env_start(&e);
        cpu = test_last_id(&e.online);
        act = pin_action(ACTION_PIN_EMULATOR, NULL, 0, cpu);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        ck_assert_uint_eq(res.threads_pinned, 1);
        struct idset want = test_idset_of(cpu), main_got = test_affinity(getpid()),
                     vcpu_got = test_affinity(e.t[0].tid);
        ck_assert(idset_equal(&main_got, &want));
        ck_assert(idset_equal(&vcpu_got, &e.online)); /* vCPUs are not emulator threads */

        /* No emulator threads in the model: the main thread stands for them. */
        test_set_affinity(getpid(), &e.online);
        e.model.n_threads = 0;
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        ck_assert_uint_eq(res.threads_pinned, 1);
        main_got = test_affinity(getpid());
        ck_assert(idset_equal(&main_got, &want));
        env_stop(&e);
}
END_TEST

TEST_MAIN("actuator-pin", test_pin_vcpus_first_and_last_cpu, test_pin_offline_cpu_changes_nothing,
          test_pin_online_from_sysfs_root, test_pin_exited_thread_is_esrch, test_pin_unknown_vcpu_is_enoent,
          test_pin_failure_restores_earlier_threads, test_pin_emulator_threads)
