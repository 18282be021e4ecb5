/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The <vnumad:policy> metadata element: whatever parses must format and parse back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vnuma/libvirt/vm-metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        _cleanup_free_ char *err = NULL, *xml = NULL, *again = NULL;
        struct idset host = IDSET_EMPTY;
        struct vm_metadata_limits lim = {.host_nodes = &host, .guest_cells = 4};
        struct vm_policy p, q;

        if (!text)
                return 0;
        for (int i = 0; i < 4; i++)
                idset_add(&host, i);
        if (vm_metadata_parse(text, &lim, &p, &err) < 0) {
                if (!err)
                        abort(); /* every refusal names its reason */
                return 0;
        }
        if (vm_metadata_format(&p, &xml) < 0 || vm_metadata_parse(xml, &lim, &q, NULL) < 0)
                abort();
        if (vm_metadata_format(&q, &again) < 0 || strcmp(xml, again) != 0)
                abort();
        return 0;
}
