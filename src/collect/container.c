/* container.c -- cgroup path and container id of a process (see container.h). */
#include "collect/container.h"

#include <stdio.h>
#include <string.h>

int container_cgroup_path(const char *text, char *out, size_t n, int *version)
{
    /* Lines: "ID:CONTROLLERS:PATH"; v2 is "0::PATH". */
    const char *v1 = NULL, *v2 = NULL;
    size_t v1len = 0, v2len = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *c1 = memchr(line, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (c2) {
            const char *path = c2 + 1;
            size_t plen = len - (size_t)(path - line);
            size_t clen = (size_t)(c2 - c1 - 1);
            if (clen == 0 && c1 - line == 1 && line[0] == '0') {
                v2 = path;
                v2len = plen;
            } else {
                /* the controller list, e.g. "cpu,cpuacct" */
                for (const char *p = c1 + 1; p < c2 && !v1;) {
                    size_t k = strcspn(p, ",:");
                    if ((k == 3 && !memcmp(p, "cpu", 3)) || (k == 7 && !memcmp(p, "cpuacct", 7))) {
                        v1 = path;
                        v1len = plen;
                    }
                    p += k + 1;
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    /* The v1 cpu hierarchy, when mounted, is where the CPU is accounted. */
    const char *p = v1 ? v1 : v2;
    size_t plen = v1 ? v1len : v2len;
    if (!p || plen == 0 || plen >= n)
        return -1;
    memcpy(out, p, plen);
    out[plen] = '\0';
    *version = v1 ? 1 : 2;
    return 0;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool is_id(const char *s, size_t n)
{
    return n >= 12 && n < CONTAINER_ID_MAX && all_hex(s, n);
}

static bool starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && !memcmp(s, prefix, k);
}

/* A pod UID after "pod" in one component: 8-4-4-4-12 hex digits, with '-'
 * (cgroupfs driver) or '_' (systemd driver, which reserves '-'). */
static bool find_pod(const char *s, size_t n, char *uid)
{
    for (size_t i = 0; i + 3 + 36 <= n; i++) {
        if (memcmp(s + i, "pod", 3))
            continue;
        const char *u = s + i + 3;
        bool ok = true;
        for (int k = 0; k < 36 && ok; k++) {
            bool dash = k == 8 || k == 13 || k == 18 || k == 23;
            ok = dash ? (u[k] == '-' || u[k] == '_') : all_hex(u + k, 1);
        }
        if (!ok)
            continue;
        for (int k = 0; k < 36; k++)
            uid[k] = u[k] == '_' ? '-' : u[k];
        uid[36] = '\0';
        return true;
    }
    return false;
}

/* One path component: a container id with its runtime, if it names one. */
static bool component_id(const char *s, size_t n, const char *prev, size_t prevlen,
                         const char **runtime, const char **id, size_t *idlen)
{
    static const struct {
        const char *prefix, *runtime;
    } scopes[] = {
        {"docker-", "docker"}, {"cri-containerd-", "containerd"}, {"crio-", "crio"}, {"libpod-", "podman"},
    };
    if (n > 6 && !memcmp(s + n - 6, ".scope", 6))
        n -= 6;
    /* containerd with the systemd driver under a cgroupfs parent:
     * "kubepods-...slice:cri-containerd:ID" */
    const char *colon = memchr(s, ':', n);
    if (colon) {
        const char *c2 = memchr(colon + 1, ':', n - (size_t)(colon + 1 - s));
        if (c2 && is_id(c2 + 1, n - (size_t)(c2 + 1 - s))) {
            size_t rl = (size_t)(c2 - colon - 1);
            *runtime = rl == 14 && !memcmp(colon + 1, "cri-containerd", 14) ? "containerd"
                       : rl == 6 && !memcmp(colon + 1, "docker", 6)       ? "docker"
                       : rl == 4 && !memcmp(colon + 1, "crio", 4)         ? "crio"
                                                                          : NULL;
            *id = c2 + 1;
            *idlen = n - (size_t)(c2 + 1 - s);
            return true;
        }
    }
    for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++) {
        size_t k = strlen(scopes[i].prefix);
        if (starts(s, n, scopes[i].prefix) && is_id(s + k, n - k)) {
            *runtime = scopes[i].runtime;
            *id = s + k;
            *idlen = n - k;
            return true;
        }
    }
    /* cgroupfs drivers: a bare id under /docker/ or a Kubernetes pod */
    if (n == 64 && all_hex(s, n)) {
        *runtime = prevlen == 6 && !memcmp(prev, "docker", 6) ? "docker" : NULL;
        *id = s;
        *idlen = n;
        return true;
    }
    return false;
}

bool container_recognise(const char *path, struct container *c)
{
    memset(c, 0, sizeof *c);
    bool kube = strstr(path, "kubepods") != NULL, found = false;
    const char *prev = "";
    size_t prevlen = 0;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (!n)
            break;
        const char *rt, *id;
        size_t idlen;
        if (kube && find_pod(p, n, c->pod_uid))
            found = true;
        /* the innermost container wins (docker in docker) */
        if (component_id(p, n, prev, prevlen, &rt, &id, &idlen)) {
            c->runtime = rt;
            memcpy(c->id, id, idlen);
            c->id[idlen] = '\0';
            found = true;
        }
        prev = p;
        prevlen = n;
        p += n;
    }
    if (!found)
        memset(c, 0, sizeof *c);
    return found;
}
