/* fuzz_taskstats.c -- the taskstats message decoder (collect/taskstats.c):
 * no crash or overread on any bytes (the kernel is trusted, but the
 * decoder must not depend on it: a struct of another version, a nest
 * without its stats), a decoded record names a real PID with a terminated
 * name, and the user/system split of any total adds up. */
#include "fuzz.h"

#include "collect/taskstats.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Netlink messages arrive 4-byte aligned. */
    uint32_t *copy = malloc(size + 4);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    struct tstats_rec r;
    int rc = tstats_decode(copy, size, &r);
    if (rc < -1 || rc > 1)
        abort();
    if (rc == 1) {
        if (r.pid <= 0 || memchr(r.comm, 0, sizeof r.comm) == NULL)
            abort();
        uint64_t u, s;
        tstats_split(r.cpu_ns, r.utime_us, r.stime_us, &u, &s);
        if (u > r.cpu_ns || u + s != r.cpu_ns)
            abort();
    }
    free(copy);
    return 0;
}
