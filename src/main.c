/* main.c -- the command table, and nothing else (like git.c). */
#include "cmd/commands.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

/* Keep in the order shown by --help; one line per command. */
static const struct command commands[] = {
    {"collect", cmd_collect, "sample processes and the host into logs/RUN_ID/"},
    {"exec", cmd_exec, "run a command as a traced task and record it"},
    {"gen-inputs", cmd_gen_inputs, "generate test videos with ffmpeg's built-in sources"},
    {"local", cmd_local, "a whole experiment on this machine, no Redis: dispatch, schedule, run, collect"},
    {"dispatch", cmd_dispatch, "enqueue a run's tasks in Redis (ffmpeg mix, a command, a JSONL file)"},
    {"scheduler", cmd_scheduler, "place queued tasks on nodes through Redis (the central scheduler)"},
    {"worker", cmd_worker, "run the tasks placed on this node by the Redis scheduler"},
    {"parse", cmd_parse, "turn a run's raw files into CTS/ traces and an audit report"},
    {"gather", cmd_gather, "collect several nodes' run folders into one experiment folder"},
    {"export", cmd_export, "write a parsed run as an OpenDC workload (tasks, fragments, topology)"},
    {"verify", cmd_verify, "check an exported OpenDC workload the way OpenDC reads it"},
    {"compare", cmd_compare, "put OpenDC's output (or tracekit replay's prediction of it) beside the measured run"},
    {"replay", cmd_replay, "predict what OpenDC will compute for an exported workload (a model of its replay)"},
    {"report", cmd_report, "write one self-contained HTML page about a run, experiment or OpenDC workload"},
    {"proxy", cmd_proxy, "HTTP reverse proxy that records every request as a task"},
    {"load", cmd_load, "open-loop HTTP load generator with latency percentiles"},
    {"links", cmd_links, "measure round trip and throughput to peer nodes (links.json)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit [--version] [--help] [--log-file FILE] COMMAND [ARGS]\n"
            "\n"
            "Record what a workload did (tasks, processes, host) and turn it into\n"
            "clean traces and OpenDC workloads.\n"
            "\n"
            "Commands:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fprintf(out,
            "\n"
            "Options:\n"
            "  --log-file FILE  also append every log line to FILE (default: $TRACEKIT_LOG_FILE)\n"
            "\n"
            "Log lines go to stderr: UTC time, level, command, message.\n"
            "'tracekit help COMMAND' or 'tracekit COMMAND --help' shows a command's options;\n"
            "'man tracekit-COMMAND' the same with more detail.\n");
}

static const struct command *find(const char *name)
{
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* "tracekit: error: unknown command 'pase'; did you mean 'parse'? ...", in
 * the style of every command's errors (log.h, cli_error). */
static void unknown_command(const char *name)
{
    const char *words[sizeof commands / sizeof commands[0]];
    size_t n = 0;
    for (const struct command *c = commands; c->name; c++)
        words[n++] = c->name;
    const char *near = opt_closest(name, words, n);
    if (near)
        fprintf(stderr, "tracekit: error: unknown command '%s'; did you mean '%s'? (see "
                "'tracekit --help')\n", name, near);
    else
        fprintf(stderr, "tracekit: error: unknown command '%s' (see 'tracekit --help')\n",
                name);
}

/* --log-file FILE (or --log-file=FILE) before the command, else
 * $TRACEKIT_LOG_FILE.  Consumes the option; returns 0, or -1 after a message. */
static int global_log_file(int *argc, char ***argv)
{
    const char *path = NULL;
    char **v = *argv;
    int skip = 0;
    if (*argc >= 2 && !strncmp(v[1], "--log-file=", 11)) {
        path = v[1] + 11;
        skip = 1;
    } else if (*argc >= 2 && !strcmp(v[1], "--log-file")) {
        if (*argc < 3) {
            fprintf(stderr, "tracekit: error: --log-file needs a FILE\n");
            return -1;
        }
        path = v[2];
        skip = 2;
    } else {
        const char *env = getenv("TRACEKIT_LOG_FILE");
        if (env && *env)
            path = env;
    }
    if (path && log_set_file(path) < 0) {
        fprintf(stderr, "tracekit: error: cannot open the log file '%s': %s\n", path,
                strerror(errno));
        return -1;
    }
    if (skip) {
        v[skip] = v[0];
        *argv = v + skip;
        *argc -= skip;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (global_log_file(&argc, &argv) < 0)
        return TK_EXIT_USAGE;
    if (argc < 2) {
        usage(stderr);
        return TK_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        usage(stdout);
        return TK_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("tracekit %s\n", TK_VERSION);
        return TK_EXIT_OK;
    }
    if (!strcmp(name, "help")) {
        if (argc < 3) {
            usage(stdout);
            return TK_EXIT_OK;
        }
        const struct command *c = find(argv[2]);
        if (!c) {
            unknown_command(argv[2]);
            return TK_EXIT_USAGE;
        }
        char *args[] = {(char *)c->name, "--help", NULL};
        log_set_command(c->name);
        return c->fn(2, args);
    }
    const struct command *c = find(name);
    if (!c) {
        unknown_command(name);
        return TK_EXIT_USAGE;
    }
    log_set_command(c->name);
    int rc = c->fn(argc - 1, argv + 1);
    log_close();
    return rc;
}
