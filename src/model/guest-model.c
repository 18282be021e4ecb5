/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/string-table.h"
#include "vnuma/model/guest.h"

static const char *const backend_kind_table[_BACKEND_KIND_MAX] = {
        [BACKEND_RAM] = "ram",
        [BACKEND_MEMFD] = "memfd",
        [BACKEND_FILE] = "file",
};

static const char *const guest_thread_kind_table[_GUEST_THREAD_KIND_MAX] = {
        [GUEST_THREAD_EMULATOR] = "emulator",
        [GUEST_THREAD_IOTHREAD] = "iothread",
};

static const char *const region_sharing_table[_REGION_SHARING_MAX] = {
        [REGION_PRIVATE] = "private",
        [REGION_SHARED_MEMORY] = "shared-memory",
        [REGION_SHARED_FILE] = "shared-file",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(backend_kind, enum backend_kind);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(region_sharing, enum region_sharing);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(guest_thread_kind, enum guest_thread_kind);

enum backend_kind backend_kind_from_qom_type(const char *qom_type)
{
        /* qom-list reports "child<memory-backend-ram>"; accept the bare type name too. */
        static const char prefix[] = "memory-backend-";
        const char *p = strstr(qom_type, prefix);
        size_t n;

        if (!p)
                return BACKEND_KIND_INVALID;
        p += strlen(prefix);
        n = strcspn(p, ">");
        for (int k = 0; k < _BACKEND_KIND_MAX; k++)
                if (strlen(backend_kind_table[k]) == n && strncmp(p, backend_kind_table[k], n) == 0)
                        return k;
        return BACKEND_KIND_INVALID;
}

void guest_model_free(struct guest_model *m)
{
        if (!m)
                return;
        for (unsigned i = 0; i < m->n_cells; i++) {
                for (unsigned j = 0; j < m->cells[i].n_regions; j++) {
                        free(m->cells[i].regions[j].backend_id);
                        free(m->cells[i].regions[j].device_id);
                        free(m->cells[i].regions[j].policy);
                }
                free(m->cells[i].regions);
        }
        for (unsigned i = 0; i < m->n_threads; i++)
                free(m->threads[i].name);
        free(m->cells);
        free(m->vcpus);
        free(m->threads);
        free(m->name);
        free(m);
}

int guest_model_cell_index(const struct guest_model *m, int cell_id)
{
        for (unsigned i = 0; i < m->n_cells; i++)
                if (m->cells[i].id == cell_id)
                        return (int)i;
        return -ENOENT;
}
