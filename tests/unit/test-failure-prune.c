/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The failed-socket list stays small (failure-prune.c): a socket that is gone is forgotten, an
 * entry with nothing left to say is dropped, and over QMP_FAILURES_MAX the soonest retries go
 * first, never an entry that names a live owner. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "test-util.h"

#define OWNER_ID 7

/* The one VM this test's daemon manages: the failure list only asks whether an owner lives. */
struct managed_vm *vm_manager_find(const struct vm_manager *m, uint64_t id)
{
        static struct managed_vm vm;

        (void)m;
        return id == OWNER_ID ? &vm : NULL;
}

static void add(struct daemon *d, const char *path, uint64_t retry, uint64_t owner, const char *error)
{
        d->failures = realloc(d->failures, (d->n_failures + 1) * sizeof(*d->failures));
        ck_assert_ptr_nonnull(d->failures);
        d->failures[d->n_failures++] = (struct qmp_failure){
                .path = strdup(path),
                .retry_period = retry,
                .owner = owner,
                .error = error ? strdup(error) : NULL,
        };
}

static bool has(const struct daemon *d, const char *path)
{
        for (unsigned i = 0; i < d->n_failures; i++)
                if (streq(d->failures[i].path, path))
                        return true;
        return false;
}

static void clear(struct daemon *d)
{
        for (unsigned i = 0; i < d->n_failures; i++) {
                free(d->failures[i].path);
                free(d->failures[i].error);
        }
        free(d->failures);
        d->failures = NULL;
        d->n_failures = 0;
}

START_TEST(test_bound_keeps_owners_and_latest_retries)
{
        struct daemon d = {.period = 0};
        char key[64];

        add(&d, "libvirt:owned", 0, OWNER_ID, NULL);
        for (unsigned i = 0; i < QMP_FAILURES_MAX + 100; i++) {
                snprintf(key, sizeof(key), "libvirt:uuid-%u", i);
                add(&d, key, 1 + i, 0, "refused");
        }
        daemon_prune_failures(&d);
        ck_assert_uint_eq(d.n_failures, QMP_FAILURES_MAX);
        ck_assert(has(&d, "libvirt:owned"));
        /* 101 over the bound: the 101 soonest retries (uuid-0 .. uuid-100) went. */
        ck_assert(!has(&d, "libvirt:uuid-0"));
        ck_assert(!has(&d, "libvirt:uuid-100"));
        ck_assert(has(&d, "libvirt:uuid-101"));
        snprintf(key, sizeof(key), "libvirt:uuid-%u", QMP_FAILURES_MAX + 99);
        ck_assert(has(&d, key));
        clear(&d);
}
END_TEST

START_TEST(test_gone_and_spent_entries_go)
{
        _cleanup_free_ char *dir = NULL, *live = NULL;
        struct daemon d = {.period = 50};
        FILE *f;

        ck_assert_int_eq(test_make_tmpdir("failure-prune", &dir), 0);
        ck_assert_int_ge(asprintf(&live, "%s/live.sock", dir), 0);
        f = fopen(live, "w");
        ck_assert_ptr_nonnull(f);
        fclose(f);

        add(&d, live, 10, 0, "the peer does not speak QMP");        /* kept: its error is remembered */
        add(&d, "/nonexistent-vnumad-test/gone.sock", 100, 0, "x"); /* its socket is gone */
        add(&d, "libvirt:spent", 10, 0, NULL);                      /* retry due, nothing to remember */
        add(&d, "libvirt:ahead", 60, 0, NULL);                      /* retry still ahead */
        add(&d, "libvirt:dead-owner", 10, OWNER_ID + 1, NULL);      /* its owner is not managed */
        daemon_prune_failures(&d);
        ck_assert(has(&d, live));
        ck_assert(!has(&d, "/nonexistent-vnumad-test/gone.sock"));
        ck_assert(!has(&d, "libvirt:spent"));
        ck_assert(has(&d, "libvirt:ahead"));
        ck_assert(!has(&d, "libvirt:dead-owner"));
        ck_assert_uint_eq(d.n_failures, 2);
        clear(&d);
        ck_assert_int_eq(test_remove_tree(dir), 0);
}
END_TEST

START_TEST(test_empty_list_is_freed)
{
        struct daemon d = {.period = 5};

        add(&d, "libvirt:spent", 1, 0, NULL);
        daemon_prune_failures(&d);
        ck_assert_uint_eq(d.n_failures, 0);
        ck_assert_ptr_null(d.failures);
}
END_TEST

TEST_MAIN("failure-prune", test_bound_keeps_owners_and_latest_retries, test_gone_and_spent_entries_go,
          test_empty_list_is_freed)
