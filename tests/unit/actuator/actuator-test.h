/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers for the actuator tests: real threads of the test process that stand in for vCPUs, and a
 * guest model describing the test process itself. */

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/idset.h"
#include "vnuma/basic/macro.h"
#include "vnuma/host/proc-task.h"
#include "vnuma/model/guest.h"

#define TEST_THREADS_MAX 8

struct test_thread {
        pthread_t handle;
        pid_t tid;
        int ready[2]; /* the thread writes its tid here */
        int hold[2];  /* it blocks reading this until the write end closes */
        bool running;
};

static void *test_thread_main(void *arg)
{
        struct test_thread *t = arg;
        pid_t tid = (pid_t)syscall(SYS_gettid);
        char c;

        ck_assert_int_eq(write(t->ready[1], &tid, sizeof(tid)), sizeof(tid));
        while (read(t->hold[0], &c, 1) > 0)
                ;
        return NULL;
}

static inline void test_thread_start(struct test_thread *t)
{
        ck_assert_int_eq(pipe(t->ready), 0);
        ck_assert_int_eq(pipe(t->hold), 0);
        ck_assert_int_eq(pthread_create(&t->handle, NULL, test_thread_main, t), 0);
        ck_assert_int_eq(read(t->ready[0], &t->tid, sizeof(t->tid)), sizeof(t->tid));
        ck_assert_int_gt(t->tid, 0);
        t->running = true;
}

/* Ends the thread and waits for it: afterwards its tid no longer exists. */
static inline void test_thread_stop(struct test_thread *t)
{
        char path[64];

        if (!t->running)
                return;
        close(t->hold[1]);
        ck_assert_int_eq(pthread_join(t->handle, NULL), 0);
        close(t->hold[0]);
        close(t->ready[0]);
        close(t->ready[1]);
        t->running = false;
        /* pthread_join returns when the kernel clears the tid, a moment before the task is gone
         * (until then sched_setaffinity or move_pages on the tid still work). */
        snprintf(path, sizeof(path), "/proc/self/task/%d", (int)t->tid);
        for (int i = 0; i < 2000 && access(path, F_OK) == 0; i++)
                usleep(1000);
        ck_assert_int_ne(access(path, F_OK), 0);
        ck_assert_int_ne(kill(t->tid, 0), 0); /* no live task by that id, thread or process */
}

/* The id of a thread that existed and is gone, so every use of it fails with ESRCH. A joined thread
 * rather than a forked child: a child exiting under valgrind would report the test's allocations. */
static inline pid_t test_dead_tid(void)
{
        struct test_thread t = {};

        test_thread_start(&t);
        test_thread_stop(&t);
        return t.tid;
}

/* The CPU set a thread may run on, read back two ways: the syscall and /proc status. */
static inline struct idset test_affinity(pid_t tid)
{
        cpu_set_t set;
        struct idset s = IDSET_EMPTY, from_proc;
        pid_t tgid;
        char path[64];
        _cleanup_free_ char *status = NULL;

        ck_assert_int_eq(sched_getaffinity(tid, sizeof(set), &set), 0);
        for (int c = 0; c < IDSET_MAX; c++)
                if (CPU_ISSET(c, &set))
                        idset_add(&s, c);
        snprintf(path, sizeof(path), "self/task/%d/status", (int)tid);
        ck_assert_int_eq(read_full_file_at("/proc", path, 1 << 16, &status, NULL), 0);
        ck_assert_int_eq(proc_status_parse(status, &tgid, &from_proc), 0);
        ck_assert_int_eq(tgid, getpid());
        ck_assert(idset_equal(&s, &from_proc));
        return s;
}

static inline void test_set_affinity(pid_t tid, const struct idset *cpus)
{
        cpu_set_t set;

        CPU_ZERO(&set);
        IDSET_FOREACH (c, cpus)
                CPU_SET(c, &set);
        ck_assert_int_eq(sched_setaffinity(tid, sizeof(set), &set), 0);
}

static inline struct idset test_online_cpus(void)
{
        _cleanup_free_ char *line = NULL;
        struct idset s;

        ck_assert_int_eq(read_one_line_at("/sys", "devices/system/cpu/online", &line), 0);
        ck_assert_int_eq(idset_parse(line, &s), 0);
        ck_assert(!idset_is_empty(&s));
        return s;
}

static inline int test_last_id(const struct idset *s)
{
        int last = -1;

        IDSET_FOREACH (id, s)
                last = id;
        return last;
}

static inline struct idset test_idset_of(int id)
{
        struct idset s = IDSET_EMPTY;

        idset_add(&s, id);
        return s;
}
