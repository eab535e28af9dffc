/* redisurl.h -- Redis connection URLs, as the original accepted them (via
 * redis-py) plus ACL user names and unix sockets:
 *
 *   redis://[USER][:PASSWORD]@HOST[:PORT][/DB][?password=PW&db=N]
 *   unix:///path/to/redis.sock[?db=N&password=PW]     (also redis+unix://)
 *
 * Defaults: host 127.0.0.1, port 6379, db 0, no user, no password.  User
 * names and passwords are percent-decoded; '@' and '/' in a password are
 * tolerated unencoded, '?', '#', '%' and ':' in a user name must be encoded.
 * rediss:// (TLS) is rejected: this build has no TLS.
 *
 * Every message that shows a URL must show redisurl_redact()'s copy or
 * redisurl_describe()'s text: both replace the password with "***". */
#ifndef TK_REDISURL_H
#define TK_REDISURL_H

#include <stdbool.h>
#include <stddef.h>

#define REDISURL_DEFAULT "redis://127.0.0.1:6379/0"
#define REDISURL_ENV "TRACEKIT_REDIS_URL"

struct redis_url {
    bool unix_socket;
    char *host;      /* TCP; IPv6 without brackets */
    int port;
    char *path;      /* unix socket */
    int db;
    char *user;      /* NULL: the default user */
    char *password;  /* NULL: no AUTH */
};

/* Parse url (NULL or "" = REDISURL_DEFAULT).  Returns 0, or -1 with a
 * message in err that never contains the password. */
int redisurl_parse(const char *url, struct redis_url *u, char *err, size_t errlen);
void redisurl_free(struct redis_url *u);

/* Read the password from a file (--redis-password-file): the first line,
 * without its line ending; the file must hold exactly one non-empty line.
 * Fails if the URL already carries a password.  Warns (log) when the file
 * is readable by group or others.  Returns 0 or -1 with err. */
int redisurl_password_file(struct redis_url *u, const char *path, char *err, size_t errlen);

/* The URL to use: arg if given, else $TRACEKIT_REDIS_URL, else the default. */
const char *redisurl_choose(const char *arg);

/* What every command that talks to Redis does with its --redis and
 * --redis-password-file: redisurl_choose(arg), parsed, with the password
 * read from pw_file when it is not NULL.  0, or -1 with err (a usage
 * error: nothing to free). */
int redisurl_load(const char *arg, const char *pw_file, struct redis_url *u, char *err,
                  size_t errlen);

/* A malloc'd copy of any string that may be a Redis URL with every
 * password replaced by "***": the userinfo after its ':' (all of a userinfo
 * without ':'), every query value but db's, and what follows "HOST:" when
 * it is not a port (a URL without its "@host").  Works on malformed input
 * too, erring on the side of hiding more. */
char *redisurl_redact(const char *url);

/* Overwrite, in place, every character of url that redisurl_redact would
 * hide with '*' (same length): for the copy of a URL in this process's
 * argv, which /proc/PID/cmdline shows to every user. */
void redisurl_mask(char *url);

/* Canonical text of a parsed URL for logs, password shown as "***",
 * e.g. "redis://alice:***@10.0.0.5:6379/2" (malloc'd). */
char *redisurl_describe(const struct redis_url *u);

#endif
