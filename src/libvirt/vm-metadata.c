/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The <vnumad:policy> element in libvirt domain metadata: parse (libxml2), validate, write. */

#include "vnuma/libvirt/vm-metadata.h"

#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <stdarg.h>

#include "vnuma/basic/error-message.h"
#include "vnuma/basic/parse-util.h"
#include "vnuma/basic/xml-util.h"

/* Limits a metadata element can never legitimately exceed; keeps a hostile element cheap. */
#define METADATA_XML_MAX (64u << 10)

static void xml_freep(xmlChar **p)
{
        if (*p)
                xmlFree(*p);
}
#define _cleanup_xml_free_ _cleanup_(xml_freep)

static void xml_ctxt_freep(xmlParserCtxtPtr *p)
{
        if (*p)
                xmlFreeParserCtxt(*p);
}

#define fail(ret_error, ...) error_message(ret_error, -EINVAL, __VA_ARGS__)

/* Element name without a prefix: "policy" for both <policy> and an undeclared <vnumad:policy>. */
static bool node_is(const xmlNode *n, const char *local)
{
        const char *name = (const char *)n->name, *colon;

        if (n->type != XML_ELEMENT_NODE || !name)
                return false;
        if (n->ns && n->ns->href && !streq((const char *)n->ns->href, VM_METADATA_URI))
                return false;
        colon = strchr(name, ':');
        return streq(colon ? colon + 1 : name, local);
}

/* A node list that must name host nodes only. `what` prefixes the message ("nodes", "cell 0 nodes"). */
static int parse_nodes(const char *what, const char *value, const struct vm_metadata_limits *limits,
                       struct idset *ret, char **ret_error)
{
        struct idset s;

        if (idset_parse(value, &s) < 0)
                return fail(ret_error, "%s=\"%s\": invalid node list", what, value);
        if (limits && limits->host_nodes)
                IDSET_FOREACH (id, &s)
                        if (!idset_test(limits->host_nodes, id))
                                return fail(ret_error, "%s=\"%s\": host has no node %d", what, value, id);
        *ret = s;
        return 0;
}

static int parse_policy_attr(const xmlAttr *a, const char *value, const struct vm_metadata_limits *limits,
                             struct vm_policy *p, char **ret_error)
{
        const char *name = (const char *)a->name;
        int r;

        if (streq(name, "mode")) {
                r = vm_policy_mode_from_string(value);
                if (r < 0)
                        return fail(ret_error, "mode=\"%s\": unknown mode", value);
                p->mode = r;
        } else if (streq(name, "pin")) {
                r = vm_pin_mode_from_string(value);
                if (r < 0)
                        return fail(ret_error, "pin=\"%s\": unknown pin mode", value);
                p->pin = r;
        } else if (streq(name, "nodes"))
                return parse_nodes("nodes", value, limits, &p->nodes, ret_error);
        else if (streq(name, "migrate-rate")) {
                if (parse_size(value, &p->migrate_rate) < 0)
                        return fail(ret_error, "migrate-rate=\"%s\": invalid size", value);
        } else
                return fail(ret_error, "%s=\"%s\": unknown attribute", name, value);
        return 0;
}

static int parse_cell(const xmlNode *n, const struct vm_metadata_limits *limits, struct vm_policy *p,
                      char **ret_error)
{
        _cleanup_xml_free_ xmlChar *id_text = xmlGetNoNsProp(n, (const xmlChar *)"id");
        _cleanup_xml_free_ xmlChar *nodes_text = xmlGetNoNsProp(n, (const xmlChar *)"nodes");
        struct vm_cell_nodes *c;
        char what[64];
        int id, r;

        for (const xmlAttr *a = n->properties; a; a = a->next)
                if (!streq((const char *)a->name, "id") && !streq((const char *)a->name, "nodes"))
                        return fail(ret_error, "cell: %s: unknown attribute", (const char *)a->name);
        if (!id_text)
                return fail(ret_error, "cell: missing attribute id");
        if (safe_atoi((const char *)id_text, &id) < 0 || id < 0)
                return fail(ret_error, "cell id=\"%s\": invalid cell id", (const char *)id_text);
        if (limits && limits->guest_cells >= 0 && id >= limits->guest_cells)
                return fail(ret_error, "cell id=\"%d\": guest has no cell %d", id, id);
        if (!nodes_text)
                return fail(ret_error, "cell id=\"%d\": missing attribute nodes", id);
        for (unsigned i = 0; i < p->n_cell_nodes; i++)
                if (p->cell_nodes[i].cell == (unsigned)id)
                        return fail(ret_error, "cell id=\"%d\": cell listed twice", id);
        if (p->n_cell_nodes >= VM_POLICY_CELLS_MAX)
                return fail(ret_error, "cell id=\"%d\": more than %d cells", id, VM_POLICY_CELLS_MAX);

        c = &p->cell_nodes[p->n_cell_nodes];
        snprintf(what, sizeof(what), "cell %d nodes", id);
        r = parse_nodes(what, (const char *)nodes_text, limits, &c->nodes, ret_error);
        if (r < 0)
                return r;
        if (idset_is_empty(&c->nodes))
                return fail(ret_error, "cell %d nodes=\"\": empty node list", id);
        c->cell = (unsigned)id;
        p->n_cell_nodes++;
        return 0;
}

static int parse_root(const xmlNode *root, const struct vm_metadata_limits *limits, struct vm_policy *ret,
                      char **ret_error)
{
        struct vm_policy p;
        int r;

        if (!node_is(root, "policy"))
                return fail(ret_error, "<%s>: not a vnumad policy element (want <policy> in %s)",
                            (const char *)root->name, VM_METADATA_URI);

        vm_policy_init(&p);
        for (const xmlAttr *a = root->properties; a; a = a->next) {
                _cleanup_xml_free_ xmlChar *v = xmlNodeGetContent((const xmlNode *)a);

                if (!v)
                        return -ENOMEM;
                r = parse_policy_attr(a, (const char *)v, limits, &p, ret_error);
                if (r < 0)
                        return r;
        }

        for (const xmlNode *n = root->children; n; n = n->next) {
                if (n->type == XML_TEXT_NODE && xmlIsBlankNode(n))
                        continue;
                if (n->type == XML_COMMENT_NODE)
                        continue;
                if (!node_is(n, "cell"))
                        return fail(ret_error, "<%s>: unexpected content in <policy>",
                                    n->name && n->type == XML_ELEMENT_NODE ? (const char *)n->name : "text");
                r = parse_cell(n, limits, &p, ret_error);
                if (r < 0)
                        return r;
        }

        /* A cell's nodes outside the VM-wide set contradict each other. */
        if (!idset_is_empty(&p.nodes))
                for (unsigned i = 0; i < p.n_cell_nodes; i++) {
                        struct idset outside = p.cell_nodes[i].nodes;

                        IDSET_FOREACH (id, &p.nodes)
                                idset_del(&outside, id);
                        if (!idset_is_empty(&outside))
                                return fail(ret_error, "cell id=\"%u\": node %d is outside nodes",
                                            p.cell_nodes[i].cell, idset_next(&outside, 0));
                }

        *ret = p;
        return 0;
}

int vm_metadata_parse(const char *xml, const struct vm_metadata_limits *limits, struct vm_policy *ret,
                      char **ret_error)
{
        _cleanup_(xml_ctxt_freep) xmlParserCtxtPtr ctxt = NULL;
        _cleanup_(xml_doc_freep) xmlDocPtr doc = NULL;
        const xmlNode *root;
        size_t len;

        if (!xml || !ret)
                return -EINVAL;
        len = strlen(xml);
        if (len == 0)
                return fail(ret_error, "malformed XML at line 1: empty document");
        if (len > METADATA_XML_MAX)
                return fail(ret_error, "malformed XML: %zu bytes, more than %u", len, METADATA_XML_MAX);

        ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return -ENOMEM;
        /* No network, no entity substitution, no DTD loading, and nothing printed to stderr. */
        doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "metadata.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc || !ctxt->wellFormed) {
                const xmlError *e = xmlCtxtGetLastError(ctxt);
                const char *msg = e && e->message ? e->message : "not well-formed";
                size_t n = strlen(msg);

                while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                        n--;
                return fail(ret_error, "malformed XML at line %d: %.*s", e && e->line > 0 ? e->line : 1,
                            (int)n, msg);
        }
        root = xmlDocGetRootElement(doc);
        if (!root)
                return fail(ret_error, "malformed XML at line 1: no root element");
        return parse_root(root, limits, ret, ret_error);
}

static int format_size(uint64_t bytes, char *buf, size_t size)
{
        static const char *const units[] = {"EiB", "PiB", "TiB", "GiB", "MiB", "KiB"};
        int n;

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                unsigned shift = 10 * (unsigned)(ELEMENTSOF(units) - i);

                if (bytes >= (UINT64_C(1) << shift) && bytes % (UINT64_C(1) << shift) == 0) {
                        n = snprintf(buf, size, "%" PRIu64 "%s", bytes >> shift, units[i]);
                        return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
                }
        }
        n = snprintf(buf, size, "%" PRIu64, bytes);
        return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

static void xml_buffer_freep(xmlBufferPtr *p)
{
        if (*p)
                xmlBufferFree(*p);
}

int vm_metadata_format(const struct vm_policy *p, char **ret)
{
        _cleanup_(xml_doc_freep) xmlDocPtr doc = NULL;
        _cleanup_(xml_buffer_freep) xmlBufferPtr buf = NULL;
        const char *mode, *pin;
        char text[IDSET_MAX * 4];
        xmlNodePtr root;
        char *s;

        if (!p || !ret)
                return -EINVAL;
        mode = vm_policy_mode_to_string(p->mode);
        pin = vm_pin_mode_to_string(p->pin);
        if (!mode || !pin || p->n_cell_nodes > VM_POLICY_CELLS_MAX)
                return -EINVAL;

        doc = xmlNewDoc((const xmlChar *)"1.0");
        if (!doc)
                return -ENOMEM;
        root = xmlNewDocNode(doc, NULL, (const xmlChar *)"policy", NULL);
        if (!root)
                return -ENOMEM;
        xmlDocSetRootElement(doc, root);

        if (!xmlSetProp(root, (const xmlChar *)"mode", (const xmlChar *)mode))
                return -ENOMEM;
        if (!idset_is_empty(&p->nodes)) {
                if (idset_format(&p->nodes, text, sizeof(text)) < 0)
                        return -EINVAL;
                if (!xmlSetProp(root, (const xmlChar *)"nodes", (const xmlChar *)text))
                        return -ENOMEM;
        }
        if (!xmlSetProp(root, (const xmlChar *)"pin", (const xmlChar *)pin))
                return -ENOMEM;
        if (p->migrate_rate > 0) {
                if (format_size(p->migrate_rate, text, sizeof(text)) < 0)
                        return -EINVAL;
                if (!xmlSetProp(root, (const xmlChar *)"migrate-rate", (const xmlChar *)text))
                        return -ENOMEM;
        }

        for (unsigned i = 0; i < p->n_cell_nodes; i++) {
                xmlNodePtr cell;
                char id[16];

                if (idset_is_empty(&p->cell_nodes[i].nodes))
                        continue; /* the parser refuses an empty cell list; it means "no choice" */
                cell = xmlNewChild(root, NULL, (const xmlChar *)"cell", NULL);
                if (!cell)
                        return -ENOMEM;
                snprintf(id, sizeof(id), "%u", p->cell_nodes[i].cell);
                if (idset_format(&p->cell_nodes[i].nodes, text, sizeof(text)) < 0)
                        return -EINVAL;
                if (!xmlSetProp(cell, (const xmlChar *)"id", (const xmlChar *)id) ||
                    !xmlSetProp(cell, (const xmlChar *)"nodes", (const xmlChar *)text))
                        return -ENOMEM;
        }

        buf = xmlBufferCreate();
        if (!buf)
                return -ENOMEM;
        if (xmlNodeDump(buf, doc, root, 0, 0) < 0)
                return -ENOMEM;
        s = strdup((const char *)xmlBufferContent(buf));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
