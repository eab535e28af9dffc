/* sockowner.c -- the local process behind a listening TCP address. */
#include "http/sockowner.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The kernel prints addresses as 32-bit words in host byte order, %08X each. */
static void kernel_hex(const uint8_t *addr, size_t n, char *out)
{
    for (size_t i = 0; i < n; i += 4) {
        uint32_t w;
        memcpy(&w, addr + i, 4);
        sprintf(out + 2 * i, "%08" PRIX32, w);
    }
}

uint64_t sockowner_listen_inode(const char *text, bool v6, const uint8_t *addr, uint16_t port)
{
    size_t alen = v6 ? 16 : 4;
    char want[33], zero[33];
    uint8_t z[16] = {0};
    kernel_hex(addr, alen, want);
    kernel_hex(z, alen, zero);
    const char *line = strchr(text, '\n');   /* skip the header line */
    while (line && *++line) {
        char local[64], st[8];
        unsigned long long inode;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, "%*s %63s %*s %7s %*s %*s %*s %*s %*s %llu", local, st, &inode) == 3 &&
            !strcmp(st, "0A")) {
            char *colon = strchr(local, ':');
            if (colon && (size_t)(colon - local) == 2 * alen &&
                strtoul(colon + 1, NULL, 16) == port) {
                *colon = '\0';
                if (!strcmp(local, want) || !strcmp(local, zero))
                    return inode;
            }
        }
        line = strchr(line, '\n');
    }
    return 0;
}

bool sockowner_addr_is_local(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        if ((ntohl(a->sin_addr.s_addr) >> 24) == 127)
            return true;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
            return true;
    } else {
        return false;
    }
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) < 0)
        return false;
    bool local = false;
    for (i = ifs; i && !local; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != sa->sa_family)
            continue;
        if (sa->sa_family == AF_INET)
            local = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
                    ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
        else
            local = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
                            &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
    freeifaddrs(ifs);
    return local;
}

static pid_t inode_owner(uint64_t inode)
{
    char want[48];
    snprintf(want, sizeof want, "socket:[%" PRIu64 "]", inode);
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    pid_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(proc))) {
        int64_t pid;
        if (!parse_i64(e->d_name, 1, INT32_MAX, &pid))
            continue;
        char dir[300];
        snprintf(dir, sizeof dir, "/proc/%s/fd", e->d_name);
        DIR *fds = opendir(dir);
        if (!fds)
            continue;   /* gone, or not ours to see */
        struct dirent *f;
        while ((f = readdir(fds))) {
            char path[600], link[64];
            if (f->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, f->d_name);
            ssize_t n = readlink(path, link, sizeof link - 1);
            if (n > 0) {
                link[n] = '\0';
                if (!strcmp(link, want)) {
                    found = (pid_t)pid;
                    break;
                }
            }
        }
        closedir(fds);
    }
    closedir(proc);
    return found;
}

pid_t sockowner_listener_pid(const struct sockaddr *sa)
{
    if (!sockowner_addr_is_local(sa))
        return 0;
    bool v6 = sa->sa_family == AF_INET6;
    const uint8_t *addr = v6 ? (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                             : (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    uint16_t port = ntohs(v6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                             : ((const struct sockaddr_in *)sa)->sin_port);
    char *text = read_file(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", NULL);
    if (!text)
        return 0;
    uint64_t inode = sockowner_listen_inode(text, v6, addr, port);
    free(text);
    if (!inode && !v6) {
        /* an IPv6 wildcard socket also accepts IPv4 connections */
        static const uint8_t any6[16] = {0};
        text = read_file("/proc/net/tcp6", NULL);
        if (text) {
            inode = sockowner_listen_inode(text, true, any6, port);
            free(text);
        }
    }
    return inode ? inode_owner(inode) : 0;
}
