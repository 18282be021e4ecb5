/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad-numad-shim: numad's `-w VCPUS[:MB]` query (what libvirt runs for placement='auto'),
 * answered like `vnumactl advise`. Put where libvirt looks for numad (vnumad(8), WITH LIBVIRT);
 * numad's daemon mode and its other options are refused: vnumad balances the guests itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/log.h"
#include "vnuma/config/daemon-config.h"
#include "vnumactl-advise.h"

static int refuse(const char *what)
{
        log_error("%s: this numad is vnumad's advisory shim; it answers \"numad -w VCPUS[:MB]\" only. "
                  "numad's daemon mode and other options are not provided: vnumad balances the guests. "
                  "To run the real numad, undo the diversion (see vnumad(8), WITH LIBVIRT).",
                  what);
        return EXIT_FAILURE;
}

int main(int argc, char *argv[])
{
        struct advise_opts o = ADVISE_OPTS_DEFAULT;
        const char *w = NULL;
        unsigned vcpus = 0;
        uint64_t mib = 0;

        log_set_program("vnumad-numad-shim");
        /* numad's getopt takes "-w ARG" and "-wARG"; libvirt passes exactly "-w V:M". */
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "-w") && i + 1 < argc && !w)
                        w = argv[++i];
                else if (!strncmp(argv[i], "-w", 2) && argv[i][2] && !w)
                        w = argv[i] + 2;
                else if (streq(argv[i], "-V")) {
                        printf("vnumad-numad-shim %s (numad -w compatible)\n", VNUMAD_VERSION);
                        return EXIT_SUCCESS;
                } else
                        return refuse(argv[i]);
        }
        if (!w)
                return refuse("no -w");
        if (advise_parse_w(w, &vcpus, &mib) < 0) {
                log_error("Invalid -w value \"%s\": expected VCPUS[:MB].", w);
                return EXIT_FAILURE;
        }
        return advise_run(&o, vcpus, mib);
}
