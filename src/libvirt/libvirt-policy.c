/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A domain's vnumad policy through libvirt metadata, and the explicit-pins rule. */

#include "vnuma/libvirt/libvirt-policy.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdarg.h>

#include "vnuma/basic/error-message.h"
#include "vnuma/basic/parse-util.h"
#include "vnuma/basic/string-table.h"
#include "vnuma/basic/xml-util.h"
#include "vnuma/libvirt/libvirt-error.h"

static const char *const libvirt_policy_source_table[_LIBVIRT_POLICY_SOURCE_MAX] = {
        [LIBVIRT_POLICY_METADATA] = "metadata",
        [LIBVIRT_POLICY_XML_PINS] = "libvirt XML pins",
        [LIBVIRT_POLICY_DEFAULT] = "default",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(libvirt_policy_source, enum libvirt_policy_source);

static void domain_freep(virDomainPtr *d)
{
        if (*d)
                virDomainFree(*d);
}

static int error_from_libvirt(char **ret_error)
{
        return libvirt_last_error(ret_error);
}

int libvirt_domain_lookup(virConnectPtr conn, const char *domain, virDomainPtr *ret)
{
        virDomainPtr d;
        int id;

        if (!conn || !domain || !ret)
                return -EINVAL;
        d = virDomainLookupByName(conn, domain);
        if (!d && strlen(domain) == VIR_UUID_STRING_BUFLEN - 1)
                d = virDomainLookupByUUIDString(conn, domain);
        if (!d && safe_atoi(domain, &id) == 0 && id >= 0)
                d = virDomainLookupByID(conn, id);
        if (!d) {
                int r = libvirt_last_error(NULL);

                return r == -EINVAL ? -ENOENT : r;
        }
        virResetLastError();
        *ret = d;
        return 0;
}

static int lookup(virConnectPtr conn, const char *domain, virDomainPtr *ret, char **ret_error)
{
        int r = libvirt_domain_lookup(conn, domain, ret);

        if (r == -ENOENT)
                return error_message(ret_error, r, "%s: no such domain", domain);
        if (r < 0)
                return error_message(ret_error, r, "%s: domain lookup failed", domain);
        return r;
}

int libvirt_policy_set(virConnectPtr conn, const char *domain, const struct vm_policy *p, unsigned flags,
                       char **ret_error)
{
        _cleanup_(domain_freep) virDomainPtr dom = NULL;
        _cleanup_free_ char *xml = NULL;
        int r;

        if (!p)
                return -EINVAL;
        r = lookup(conn, domain, &dom, ret_error);
        if (r < 0)
                return r;
        r = vm_metadata_format(p, &xml);
        if (r < 0)
                return error_message(ret_error, r, "%s: policy cannot be written as metadata", domain);
        if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, VM_METADATA_KEY, VM_METADATA_URI,
                                 flags) < 0)
                return error_from_libvirt(ret_error);
        return 0;
}

int libvirt_policy_clear(virConnectPtr conn, const char *domain, unsigned flags, char **ret_error)
{
        _cleanup_(domain_freep) virDomainPtr dom = NULL;
        int r;

        r = lookup(conn, domain, &dom, ret_error);
        if (r < 0)
                return r;
        /* NULL metadata removes the element; removing an absent one is not an error in libvirt. */
        if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, NULL, NULL, VM_METADATA_URI, flags) < 0)
                return error_from_libvirt(ret_error);
        return 0;
}

int libvirt_policy_get_dom(virDomainPtr dom, unsigned flags, const struct vm_metadata_limits *limits,
                           struct vm_policy *ret, char **ret_xml, char **ret_error)
{
        _cleanup_free_ char *xml = NULL;
        struct vm_policy p;
        int r;

        if (!dom || !ret)
                return -EINVAL;
        xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VM_METADATA_URI, flags);
        if (!xml) {
                r = error_from_libvirt(ret_error);
                if (r == -ENODATA)
                        return error_message(ret_error, r, "%s: no vnumad policy metadata",
                                             virDomainGetName(dom) ?: "?");
                return r;
        }
        r = vm_metadata_parse(xml, limits, &p, ret_error);
        if (ret_xml && (r >= 0 || r == -EINVAL)) {
                free(*ret_xml);
                *ret_xml = TAKE_PTR(xml);
        }
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

int libvirt_policy_get(virConnectPtr conn, const char *domain, unsigned flags,
                       const struct vm_metadata_limits *limits, struct vm_policy *ret, char **ret_xml,
                       char **ret_error)
{
        _cleanup_(domain_freep) virDomainPtr dom = NULL;
        int r;

        r = lookup(conn, domain, &dom, ret_error);
        if (r < 0)
                return r;
        return libvirt_policy_get_dom(dom, flags, limits, ret, ret_xml, ret_error);
}

static const xmlNode *child(const xmlNode *parent, const char *name)
{
        for (const xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && streq((const char *)n->name, name))
                        return n;
        return NULL;
}

/* Domain XML, quietly (libxml2 prints nothing), with <domain> as its root. */
static int parse_domain_xml(const char *domain_xml, xmlDocPtr *ret_doc, const xmlNode **ret_root)
{
        xmlDocPtr doc;
        const xmlNode *root;

        if (!domain_xml)
                return -EINVAL;
        doc = xmlReadMemory(domain_xml, (int)strlen(domain_xml), "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return -EINVAL;
        root = xmlDocGetRootElement(doc);
        if (!root || !streq((const char *)root->name, "domain")) {
                xmlFreeDoc(doc);
                return -EINVAL;
        }
        *ret_doc = doc;
        *ret_root = root;
        return 0;
}

int libvirt_xml_guest_cells(const char *domain_xml, int *ret)
{
        _cleanup_(xml_doc_freep) xmlDocPtr doc = NULL;
        const xmlNode *root, *numa;
        int n = 0, r;

        r = parse_domain_xml(domain_xml, &doc, &root);
        if (r < 0)
                return r;
        numa = child(child(root, "cpu"), "numa");
        for (const xmlNode *c = numa ? numa->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && streq((const char *)c->name, "cell"))
                        n++;
        *ret = n;
        return 0;
}

int libvirt_domain_guest_cells(virDomainPtr dom, unsigned flags, int *ret)
{
        _cleanup_free_ char *xml = NULL;

        /* Defined cells, as the persistent config or the running domain has them. */
        xml = virDomainGetXMLDesc(dom, (flags & VIR_DOMAIN_AFFECT_CONFIG) ? VIR_DOMAIN_XML_INACTIVE : 0);
        if (!xml)
                return libvirt_last_error(NULL);
        return libvirt_xml_guest_cells(xml, ret);
}

/* <numatune><memory placement='auto'/></numatune> and nothing else: libvirt asked numad (or
 * vnumad's advise, in numad's place) where to start the domain. The operator left the placement
 * to the balancer; it is not a pin. */
static bool numatune_is_auto(const xmlNode *numatune)
{
        const xmlNode *mem = child(numatune, "memory");
        xmlChar *placement;
        bool is_auto;

        if (!mem || child(numatune, "memnode"))
                return false;
        placement = xmlGetProp(mem, (const xmlChar *)"placement");
        is_auto = placement && streq((const char *)placement, "auto");
        xmlFree(placement);
        return is_auto;
}

int libvirt_xml_auto_placement(const char *domain_xml)
{
        _cleanup_(xml_doc_freep) xmlDocPtr doc = NULL;
        const xmlNode *root, *numatune;
        int r;

        r = parse_domain_xml(domain_xml, &doc, &root);
        if (r < 0)
                return r;
        numatune = child(root, "numatune");
        return numatune && numatune_is_auto(numatune);
}

/* numatune_only: count <numatune> only, not the <cputune> pins (see libvirt_policy_resolve). */
static int xml_has_pins(const char *domain_xml, bool numatune_only, char **ret_what)
{
        static const char *const pins[] = {"vcpupin", "emulatorpin", "iothreadpin"};
        _cleanup_(xml_doc_freep) xmlDocPtr doc = NULL;
        const xmlNode *root, *cputune;
        const char *what = NULL;
        int r;

        r = parse_domain_xml(domain_xml, &doc, &root);
        if (r < 0)
                return r;

        cputune = numatune_only ? NULL : child(root, "cputune");
        for (size_t i = 0; i < ELEMENTSOF(pins) && !what; i++)
                if (child(cputune, pins[i]))
                        what = pins[i];
        if (!what && child(root, "numatune") && !numatune_is_auto(child(root, "numatune")))
                what = "numatune";
        if (!what)
                return 0;
        if (ret_what) {
                char *w = strdup(what);

                if (!w)
                        return -ENOMEM;
                free(*ret_what);
                *ret_what = w;
        }
        return 1;
}

int libvirt_xml_has_pins(const char *domain_xml, char **ret_what)
{
        return xml_has_pins(domain_xml, false, ret_what);
}

int libvirt_policy_resolve(virDomainPtr dom, const struct vm_metadata_limits *limits, struct vm_policy *ret,
                           enum libvirt_policy_source *ret_source, char **ret_error)
{
        _cleanup_free_ char *domain_xml = NULL, *error = NULL;
        struct vm_policy p;
        int persistent, r;

        if (!dom || !ret)
                return -EINVAL;
        r = libvirt_policy_get_dom(dom, VIR_DOMAIN_AFFECT_CURRENT, limits, &p, NULL, &error);
        if (r >= 0) {
                *ret = p;
                if (ret_source)
                        *ret_source = LIBVIRT_POLICY_METADATA;
                return 0;
        }
        if (r != -ENODATA) {
                /* *ret_error gets a message on failure only: "no metadata" is not one. */
                if (ret_error) {
                        free(*ret_error);
                        *ret_error = TAKE_PTR(error);
                }
                return r;
        }

        /* The persistent definition is the operator's. A transient domain only has the live one,
         * where vnumad's own vCPU and emulator pins show up as <cputune> entries once it has acted:
         * counting those would turn the domain to "observe" at the next resolve (a reconnect, a
         * metadata change). So for a transient domain only <numatune> counts, which no live pin
         * of vnumad's changes. */
        persistent = virDomainIsPersistent(dom);
        if (persistent < 0)
                return error_from_libvirt(ret_error);
        domain_xml = virDomainGetXMLDesc(dom, persistent ? VIR_DOMAIN_XML_INACTIVE : 0);
        if (!domain_xml)
                return error_from_libvirt(ret_error);
        vm_policy_init(&p);
        r = xml_has_pins(domain_xml, !persistent, NULL);
        if (r < 0)
                return error_message(ret_error, r, "%s: domain XML does not parse",
                                     virDomainGetName(dom) ?: "?");
        if (r > 0)
                p.mode = VM_POLICY_OBSERVE;
        *ret = p;
        if (ret_source)
                *ret_source = r > 0 ? LIBVIRT_POLICY_XML_PINS : LIBVIRT_POLICY_DEFAULT;
        return 0;
}

int libvirt_domain_numa_nodeset(virDomainPtr dom, struct idset *ret)
{
        virTypedParameterPtr params = NULL;
        struct idset set = IDSET_EMPTY;
        int n = 0, r = 0;

        if (!dom || !ret)
                return -EINVAL;
        if (virDomainGetNumaParameters(dom, NULL, &n, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return libvirt_last_error(NULL);
        if (n > 0) {
                params = calloc((size_t)n, sizeof(*params));
                if (!params)
                        return -ENOMEM;
                if (virDomainGetNumaParameters(dom, params, &n, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                        free(params);
                        return libvirt_last_error(NULL);
                }
        }
        for (int i = 0; i < n && r >= 0; i++)
                if (streq(params[i].field, VIR_DOMAIN_NUMA_NODESET) &&
                    params[i].type == VIR_TYPED_PARAM_STRING && params[i].value.s)
                        r = idset_parse(params[i].value.s, &set);
        virTypedParamsFree(params, n);
        if (r < 0)
                return r;
        *ret = set;
        return 0;
}
