/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal side of logging: when stderr counts as the journal's stream ($JOURNAL_STREAM), and
 * the native fields of a line (VNUMAD_VM for a VM's). The journal itself is tested in
 * tests/qemu/test-journal.py, against a real journald. Also write_file_atomic, which the metrics
 * textfile uses. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"

START_TEST(test_stream_matches)
{
        ck_assert(log_journal_stream_matches("8:12345", 8, 12345));
        ck_assert(log_journal_stream_matches("18446744073709551615:1", (dev_t)-1, 1));
        ck_assert(!log_journal_stream_matches("8:12346", 8, 12345));
        ck_assert(!log_journal_stream_matches("9:12345", 8, 12345));
        ck_assert(!log_journal_stream_matches(NULL, 8, 12345));
        ck_assert(!log_journal_stream_matches("", 8, 12345));
        ck_assert(!log_journal_stream_matches("8", 8, 12345));
        ck_assert(!log_journal_stream_matches("8:", 8, 12345));
        ck_assert(!log_journal_stream_matches("8:12345x", 8, 12345));
        ck_assert(!log_journal_stream_matches("8:12345:1", 8, 12345));
        ck_assert(!log_journal_stream_matches(" 8:12345", 8, 12345));
        ck_assert(!log_journal_stream_matches("-8:12345", (dev_t)-8, 12345));
}
END_TEST

static char *field(const struct iovec *iov)
{
        static char buf[4096];

        ck_assert_uint_lt(iov->iov_len, sizeof(buf));
        memcpy(buf, iov->iov_base, iov->iov_len);
        buf[iov->iov_len] = 0;
        return buf;
}

START_TEST(test_fields)
{
        char buf[256];
        struct iovec iov[LOG_JOURNAL_FIELDS_MAX];
        size_t n;

        n = log_journal_fields(LOG_WARNING, EPERM, "vnumad", "web\"1\\", "VM web\"1\\: x failed", buf,
                               sizeof(buf), iov);
        ck_assert_uint_eq(n, 5);
        ck_assert_str_eq(field(&iov[0]), "MESSAGE=VM web\"1\\: x failed");
        ck_assert_str_eq(field(&iov[1]), "PRIORITY=4");
        ck_assert_str_eq(field(&iov[2]), "SYSLOG_IDENTIFIER=vnumad");
        ck_assert_str_eq(field(&iov[3]), "ERRNO=1");
        ck_assert_str_eq(field(&iov[4]), "VNUMAD_VM=web\"1\\");

        /* Not about a VM, no error, no program name: only what there is. */
        n = log_journal_fields(LOG_INFO, 0, NULL, NULL, "Configuration reloaded", buf, sizeof(buf), iov);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(field(&iov[0]), "MESSAGE=Configuration reloaded");
        ck_assert_str_eq(field(&iov[1]), "PRIORITY=6");

        /* A message longer than the buffer is cut, never overrun; later fields are dropped. */
        char big[300];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        n = log_journal_fields(LOG_INFO, 0, NULL, "web1", big, buf, 64, iov);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(iov[0].iov_len, 63);
        ck_assert(strncmp(field(&iov[0]), "MESSAGE=aaa", 11) == 0);
}
END_TEST

/* stderr is a file and $JOURNAL_STREAM names another: plain "<N>" lines, the VM only in the text.
 * (Check runs each test in a child, so the detection starts fresh here.) */
START_TEST(test_not_the_journal)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        char env[64], *text = NULL;
        struct stat st;
        int fd;

        ck_assert_int_eq(test_make_tmpdir("test-log", &dir), 0);
        ck_assert_int_ge(asprintf(&path, "%s/stderr", dir), 0);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fstat(fd, &st), 0);
        snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino + 1);
        ck_assert_int_eq(setenv("JOURNAL_STREAM", env, 1), 0);
        ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
        ck_assert_int_eq(log_vm(LOG_WARNING, "web1", "VM %s: %s", "web1", "busy"), 0);
        ck_assert_int_eq(log_vm_errno(LOG_ERR, -EPERM, "web1", "VM %s: %m", "web1"), -EPERM);
        ck_assert_int_eq(read_full_file_at(NULL, path, 4096, &text, NULL), 0);
        ck_assert_str_eq(text, "<4>VM web1: busy\n<3>VM web1: Operation not permitted\n");
        free(text);
        ck_assert_int_eq(test_remove_tree(dir), 0);
}
END_TEST

START_TEST(test_write_atomic)
{
        _cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL, *missing = NULL;
        struct stat st;

        ck_assert_int_eq(test_make_tmpdir("test-log", &dir), 0);
        ck_assert_int_ge(asprintf(&path, "%s/m.prom", dir), 0);
        umask(077); /* as under the unit: the mode must not come from the umask */
        ck_assert_int_eq(write_file_atomic(path, "a 1\n", 4, 0644), 0);
        ck_assert_int_eq(write_file_atomic(path, "b 2\n", 4, 0644), 0);
        ck_assert_int_eq(read_full_file_at(NULL, path, 4096, &text, NULL), 0);
        ck_assert_str_eq(text, "b 2\n");
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0644);
        /* Nothing else is left in the directory: the temporary files were renamed. */
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(rmdir(dir), 0);

        ck_assert_int_ge(asprintf(&missing, "%s/m.prom", dir), 0);
        ck_assert_int_eq(write_file_atomic(missing, "a 1\n", 4, 0644), -ENOENT);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("log");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_stream_matches);
        tcase_add_test(tc, test_fields);
        tcase_add_test(tc, test_not_the_journal);
        tcase_add_test(tc, test_write_atomic);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
