/* redis_fixture.h -- start a private, password-protected redis-server on
 * 127.0.0.1 (random free port, data in a temp folder, no RDB), for tests and
 * benchmarks.  Header-only so both can include it.  The server is started
 * with posix_spawn and stopped by its pid. */
#ifndef TK_REDIS_FIXTURE_H
#define TK_REDIS_FIXTURE_H

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct redis_fixture {
    pid_t pid;
    int port;
    char dir[64];
    char conf[128];
    char sock[128];
    char password[64];
};

static inline int fixture_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static inline bool fixture_have_redis(void)
{
    const char *path = getenv("PATH");
    char buf[512];
    for (const char *p = path ? path : "/usr/bin"; p && *p;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/redis-server", (int)n, p);
        if (access(buf, X_OK) == 0)
            return true;
        p = c ? c + 1 : NULL;
    }
    return false;
}

/* Spawn redis-server on the fixture's port and wait until it answers. */
static inline int fixture_spawn(struct redis_fixture *f)
{
    char *argv[] = {"redis-server", f->conf, NULL};
    if (posix_spawnp(&f->pid, "redis-server", NULL, NULL, argv, environ) != 0)
        return -1;
    struct timeval tv = {0, 200000};
    for (int i = 0; i < 250; i++) { /* up to ~5 s */
        redisContext *c = redisConnectWithTimeout("127.0.0.1", f->port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "AUTH %s", f->password);
            bool ok = r && r->type == REDIS_REPLY_STATUS;
            if (r)
                freeReplyObject(r);
            r = ok ? redisCommand(c, "PING") : NULL;
            ok = r && r->type == REDIS_REPLY_STATUS; /* not -LOADING */
            if (r)
                freeReplyObject(r);
            redisFree(c);
            if (ok)
                return 0;
        } else if (c) {
            redisFree(c);
        }
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* extra: more config lines (may be NULL). */
static inline int fixture_start(struct redis_fixture *f, const char *extra)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/tk-redis-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->conf, sizeof f->conf, "%s/redis.conf", f->dir);
    snprintf(f->sock, sizeof f->sock, "%s/redis.sock", f->dir);
    snprintf(f->password, sizeof f->password, "pw-%d-%ld", getpid(), (long)time(NULL));
    f->port = fixture_free_port();
    FILE *c = fopen(f->conf, "w");
    if (!c || f->port <= 0) {
        if (c)
            fclose(c);
        return -1;
    }
    fprintf(c,
            "port %d\nbind 127.0.0.1\nrequirepass %s\nsave \"\"\ndir %s\n"
            "logfile %s/redis.log\nunixsocket %s\nunixsocketperm 700\n%s\n",
            f->port, f->password, f->dir, f->dir, f->sock, extra ? extra : "");
    fclose(c);
    return fixture_spawn(f);
}

/* Stop (SIGKILL when hard, else SIGTERM) and reap. */
static inline void fixture_stop(struct redis_fixture *f, bool hard)
{
    if (f->pid > 0) {
        kill(f->pid, hard ? SIGKILL : SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

static inline void fixture_cleanup(struct redis_fixture *f)
{
    fixture_stop(f, false);
    char cmd_path[160];
    const char *files[] = {"redis.conf", "redis.log", "redis.sock", "dump.rdb"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(cmd_path, sizeof cmd_path, "%s/%s", f->dir, files[i]);
        unlink(cmd_path);
    }
    rmdir(f->dir);
}

/* A plain authenticated hiredis connection, for checks behind rq's back. */
static inline redisContext *fixture_raw(const struct redis_fixture *f)
{
    redisContext *c = redisConnect("127.0.0.1", f->port);
    if (!c || c->err)
        return c;
    redisReply *r = redisCommand(c, "AUTH %s", f->password);
    if (r)
        freeReplyObject(r);
    return c;
}

#endif
