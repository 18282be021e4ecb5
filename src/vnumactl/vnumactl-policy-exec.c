/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl policy, in the vnumactl without libvirt: hands the whole command line to
 * vnumactl-libvirt, the same program linked with libvirt. Loading libvirt and the fifty libraries
 * it pulls in takes longer than answering `status` (issue 15 item 7); only `policy` needs it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vnuma/basic/log.h"
#include "vnuma/basic/macro.h"
#include "vnumactl-policy.h"

#define HELPER "vnumactl-libvirt"

/* Beside this program (a build tree), else where it is installed. */
static int find_helper(char *buf, size_t size)
{
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n > 0) {
                char *slash;

                self[n] = '\0';
                slash = strrchr(self, '/');
                if (slash && snprintf(buf, size, "%.*s/" HELPER, (int)(slash - self), self) < (int)size &&
                    access(buf, X_OK) == 0)
                        return 0;
        }
        if (snprintf(buf, size, "%s", VNUMACTL_LIBVIRT_PATH) >= (int)size)
                return -ENAMETOOLONG;
        return access(buf, X_OK) == 0 ? 0 : negative_errno();
}

int policy_verb(const struct policy_opts *o, char **args, int n_args, bool *ret_not_libvirt)
{
        char helper[PATH_MAX];
        int r;

        (void)args;
        (void)n_args;
        *ret_not_libvirt = false;
        r = find_helper(helper, sizeof(helper));
        if (r < 0)
                return log_error_errno(r, "policy needs %s, which is not installed: %m",
                                       VNUMACTL_LIBVIRT_PATH);
        execv(helper, o->argv);
        return log_error_errno(negative_errno(), "Cannot run %s: %m", helper);
}
