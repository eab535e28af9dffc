/* procid.h -- a process's identity within one boot: (pid, start ticks), the
 * start time in clock ticks since boot from /proc/PID/stat field 22.  A PID
 * can be reused; the pair cannot. */
#ifndef TK_PROCID_H
#define TK_PROCID_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Parse the start ticks (field 22) and parent pid (field 4) out of the text
 * of /proc/PID/stat.  The command name (field 2) may hold spaces and ')', so
 * parsing starts after its last ')'.  Either out pointer may be NULL.
 * Returns 0, or -1 when the text is not a stat line. */
int procid_parse_stat(const char *text, uint64_t *start_ticks, pid_t *ppid);

/* Read /proc/PID/stat.  Returns 0, or -1 with errno (ESRCH when gone). */
int procid_read(pid_t pid, uint64_t *start_ticks, pid_t *ppid);

/* True while the process (pid, start_ticks) exists (zombies included). */
bool procid_alive(pid_t pid, uint64_t start_ticks);

#endif
