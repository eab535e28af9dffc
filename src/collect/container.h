/* container.h -- which cgroup a process is in, and which container that is.
 *
 * Pure: the text of /proc/PID/cgroup in, the path that accounts its CPU out
 * (the v1 "cpu"/"cpuacct" hierarchy when the machine has one, else the v2
 * unified path), and the container recognised from that path by the naming
 * conventions of Docker, containerd, podman, CRI-O and Kubernetes (both the
 * cgroupfs and the systemd cgroup drivers). */
#ifndef TK_CONTAINER_H
#define TK_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>

#define CONTAINER_ID_MAX 129
#define CONTAINER_UID_MAX 37

struct container {
    const char *runtime;     /* "docker", "containerd", "podman", "crio", or NULL (unknown) */
    char id[CONTAINER_ID_MAX];      /* container id (hex), "" when none */
    char pod_uid[CONTAINER_UID_MAX];/* Kubernetes pod UID (with dashes), "" when none */
};

/* The cgroup path from /proc/PID/cgroup text into out (NUL-terminated).
 * *version gets 1 or 2.  Returns 0, or -1 when the text names none. */
int container_cgroup_path(const char *text, char *out, size_t n, int *version);
/* Recognise a container from a cgroup path.  True when an id or a pod was
 * found (*c filled), else false (*c cleared). */
bool container_recognise(const char *path, struct container *c);

#endif
