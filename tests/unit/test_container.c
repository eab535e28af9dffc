#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "collect/container.h"
#include "common/util.h"

#define H64 "3f4e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
#define H64B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "8f2c1a3b-4d5e-6f70-8192-a3b4c5d6e7f8"
#define UIDU "8f2c1a3b_4d5e_6f70_8192_a3b4c5d6e7f8"

static void test_recognise_table(void **state)
{
    (void)state;
    static const struct {
        const char *path, *runtime, *id, *pod;
    } t[] = {
        /* Docker: cgroupfs driver (v1 and v2), systemd driver */
        {"/docker/" H64, "docker", H64, ""},
        {"/system.slice/docker-" H64 ".scope", "docker", H64, ""},
        /* docker in docker: the innermost */
        {"/docker/" H64 "/docker/" H64B, "docker", H64B, ""},
        /* containerd (nerdctl, systemd driver) */
        {"/system.slice/cri-containerd-" H64 ".scope", "containerd", H64, ""},
        /* podman: rootful systemd, rootless user slice, cgroupfs */
        {"/machine.slice/libpod-" H64 ".scope", "podman", H64, ""},
        {"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" H64 ".scope/container",
         "podman", H64, ""},
        {"/libpod_parent/libpod-" H64, "podman", H64, ""},
        /* conmon is not the container */
        {"/machine.slice/libpod-conmon-" H64 ".scope", NULL, "", ""},
        /* CRI-O */
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU ".slice/crio-" H64 ".scope",
         "crio", H64, UID},
        {"/machine.slice/crio-conmon-" H64 ".scope", NULL, "", ""},
        /* Kubernetes, systemd driver with containerd */
        {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice/cri-containerd-" H64
         ".scope", "containerd", H64, UID},
        /* Kubernetes guaranteed QoS (no QoS slice) */
        {"/kubepods.slice/kubepods-pod" UIDU ".slice/cri-containerd-" H64 ".scope", "containerd", H64, UID},
        /* Kubernetes, cgroupfs driver: runtime unknown from the path */
        {"/kubepods/burstable/pod" UID "/" H64, NULL, H64, UID},
        {"/kubepods/pod" UID "/" H64, NULL, H64, UID},
        /* the pod's own cgroup (pause-less view): a pod, no container */
        {"/kubepods/burstable/pod" UID, NULL, "", UID},
        /* containerd's systemd driver under a cgroupfs parent */
        {"/system.slice/containerd.service/kubepods-burstable-pod" UIDU ".slice:cri-containerd:" H64,
         "containerd", H64, UID},
        /* not containers */
        {"/", NULL, "", ""},
        {"/user.slice/user-0.slice/session-3.scope", NULL, "", ""},
        {"/system.slice/docker.service", NULL, "", ""},
        {"/tracekit/task-12", NULL, "", ""},
        {"/docker/notanid", NULL, "", ""},
        {"/pod" UID, NULL, "", ""},   /* no kubepods: not a pod */
    };
    for (size_t i = 0; i < ARRAY_LEN(t); i++) {
        struct container c;
        bool want = t[i].id[0] || t[i].pod[0];
        assert_int_equal(container_recognise(t[i].path, &c), want);
        if (t[i].runtime)
            assert_string_equal(c.runtime, t[i].runtime);
        else
            assert_null(c.runtime);
        assert_string_equal(c.id, t[i].id);
        assert_string_equal(c.pod_uid, t[i].pod);
    }
}

static void test_cgroup_path(void **state)
{
    (void)state;
    char p[256];
    int v = 0;
    /* hybrid (this machine's layout): the v1 cpu hierarchy */
    const char *hybrid = "9:name=systemd:/\n8:pids:/\n4:memory:/a/b\n2:cpuacct:/x/y\n1:cpu:/x/y\n0::/\n";
    assert_int_equal(container_cgroup_path(hybrid, p, sizeof p, &v), 0);
    assert_string_equal(p, "/x/y");
    assert_int_equal(v, 1);
    /* co-mounted cpu,cpuacct */
    assert_int_equal(container_cgroup_path("5:cpu,cpuacct:/docker/" H64 "\n0::/init.scope\n", p, sizeof p, &v), 0);
    assert_string_equal(p, "/docker/" H64);
    assert_int_equal(v, 1);
    /* cpuacct alone still counts; cpuset does not */
    assert_int_equal(container_cgroup_path("3:cpuset:/s\n2:cpuacct:/acct\n", p, sizeof p, &v), 0);
    assert_string_equal(p, "/acct");
    /* pure v2 */
    assert_int_equal(container_cgroup_path("0::/system.slice/docker-" H64 ".scope\n", p, sizeof p, &v), 0);
    assert_string_equal(p, "/system.slice/docker-" H64 ".scope");
    assert_int_equal(v, 2);
    /* no trailing newline */
    assert_int_equal(container_cgroup_path("0::/a", p, sizeof p, &v), 0);
    assert_string_equal(p, "/a");
    /* nothing usable; too long for the buffer */
    assert_int_equal(container_cgroup_path("", p, sizeof p, &v), -1);
    assert_int_equal(container_cgroup_path("3:cpuset:/s\n", p, sizeof p, &v), -1);
    assert_int_equal(container_cgroup_path("0::/abcdef", p, 4, &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recognise_table),
        cmocka_unit_test(test_cgroup_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
