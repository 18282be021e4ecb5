/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Without libFuzzer: run a fuzz target over the files named on the command line (its seed
 * corpus), so every normal build keeps the targets compiling and the corpus crash-free. */
#include <stdio.h>

#include "fuzz.h"
#include "vnuma/basic/fileio.h"

int main(int argc, char *argv[])
{
        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *data = NULL;
                size_t size;
                int r = read_full_file_at(NULL, argv[i], 16u << 20, &data, &size);

                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return 1;
                }
                LLVMFuzzerTestOneInput((const uint8_t *)data, size);
        }
        printf("%d inputs\n", argc - 1);
        return 0;
}
