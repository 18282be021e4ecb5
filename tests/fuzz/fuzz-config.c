/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad.conf through inih and vnumad's key mapping, read from a memfd as from a file: a
 * config loads, or it fails with "FILE:LINE: problem" and nothing loaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "vnuma/config/daemon-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int fd = -1;
        static char path[64];
        struct daemon_config *c = NULL;
        char *err = NULL;
        int r;

        if (fd < 0) {
                fd = memfd_create("vnumad-fuzz.conf", MFD_CLOEXEC);
                if (fd < 0)
                        abort();
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        }
        if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
                abort();
        r = daemon_config_load(path, "/nonexistent/vnumad-fuzz.conf.d", &c, &err);
        if (r < 0) {
                if (c || !err || strncmp(err, path, strlen(path)) != 0)
                        abort();
        } else if (!c || err) {
                abort();
        }
        daemon_config_free(c);
        free(err);
        return 0;
}
