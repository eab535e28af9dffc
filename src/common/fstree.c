/* fstree.c -- removing, copying and replacing whole folders (see fstree.h). */
#include "common/fstree.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    return rc < 0 && errno != ENOENT ? -1 : 0;
}

int fstree_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
    int in = open_regular(src);  /* swapped for a FIFO or a link since the lstat? */
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    static char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -1 : 0;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc)
            break;
    }
    int e = errno;
    if (rc == 0 && fsync(out) < 0) {
        rc = -1;
        e = errno;
    }
    close(in);
    if (close(out) < 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    errno = e;
    return rc;
}

static int copy_rec(const char *src, const char *dst, const char *rel, bool (*skip)(const char *),
                    size_t *files, char *err, size_t errlen)
{
    if (mkdir(dst, 0755) < 0) {
        snprintf(err, errlen, "%s", dst);
        return -1;
    }
    DIR *d = opendir(src);
    if (!d) {
        snprintf(err, errlen, "%s", src);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *r = *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
        if (skip && skip(r)) {
            free(r);
            continue;
        }
        char *s = path_join(src, e->d_name), *t = path_join(dst, e->d_name);
        struct stat st;
        if (lstat(s, &st) < 0) {
            snprintf(err, errlen, "%s", s);
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = copy_rec(s, t, r, skip, files, err, errlen);
        } else if (S_ISREG(st.st_mode)) {
            if (copy_file(s, t, st.st_mode) < 0) {
                snprintf(err, errlen, "%s", t);
                rc = -1;
            } else {
                (*files)++;
            }
        }
        free(s);
        free(t);
        free(r);
    }
    int keep = errno;
    closedir(d);
    errno = keep;
    return rc;
}

int fstree_copy(const char *src, const char *dst, bool (*skip)(const char *rel), size_t *files,
                char *err, size_t errlen)
{
    size_t dummy = 0;
    if (!files)
        files = &dummy;
    *files = 0;
    if (errlen)
        err[0] = '\0';
    return copy_rec(src, dst, "", skip, files, err, errlen);
}

int fstree_sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static char *parent_of(const char *path)
{
    char *p = xstrdup(path);
    char *slash = strrchr(p, '/');
    if (!slash) {
        free(p);
        return xstrdup(".");
    }
    if (slash == p)
        slash[1] = '\0';
    else
        *slash = '\0';
    return p;
}

int fstree_replace(const char *fresh, const char *final)
{
    char *parent = parent_of(final);
    int rc;
    struct stat st;
    if (lstat(final, &st) < 0) {
        rc = errno == ENOENT ? rename(fresh, final) : -1;
    } else if (renameat2(AT_FDCWD, fresh, AT_FDCWD, final, RENAME_EXCHANGE) == 0) {
        /* fresh now names the old folder */
        fstree_sync_dir(parent);
        rc = fstree_rm_rf(fresh);
    } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
        char *old = xasprintf("%s.old.%d", final, (int)getpid());
        rc = rename(final, old);
        if (rc == 0)
            rc = rename(fresh, final);
        if (rc == 0)
            rc = fstree_rm_rf(old);
        free(old);
    } else {
        rc = -1;
    }
    int e = errno;
    if (rc == 0)
        fstree_sync_dir(parent);
    free(parent);
    errno = e;
    return rc;
}

int fstree_clean_stale(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    size_t pl = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, pl) != 0)
            continue;
        int64_t pid;
        if (!parse_i64(e->d_name + pl, 1, INT32_MAX, &pid))
            continue;
        /* signal 0 only asks whether the process exists */
        if (pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char *p = path_join(dir, e->d_name);
        if (fstree_rm_rf(p) == 0)
            removed++;
        free(p);
    }
    closedir(d);
    return removed;
}
