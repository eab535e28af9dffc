/* main.c -- the command table, and nothing else (like git.c). */
#include "commands.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
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
    {"parse", cmd_parse, "turn a run's raw files into CTS/ traces and an audit report"},
    {"gather", cmd_gather, "collect several nodes' run folders into one experiment folder"},
    {"export", cmd_export, "write a parsed run as an OpenDC workload (tasks, fragments, topology)"},
    {"verify", cmd_verify, "check an exported OpenDC workload the way OpenDC reads it"},
    {"dispatch", cmd_dispatch, "enqueue a run's tasks in Redis (ffmpeg mix, a command, a JSONL file)"},
    {"report", cmd_report, "write one self-contained HTML page about a parsed run or experiment"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit [--version] [--help] COMMAND [ARGS]\n"
            "\n"
            "Record what a workload did (tasks, processes, host) and turn it into\n"
            "clean traces and OpenDC workloads.\n"
            "\n"
            "Commands:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fprintf(out, "\n'tracekit help COMMAND' or 'tracekit COMMAND --help' shows a command's options.\n");
}

static const struct command *find(const char *name)
{
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int main(int argc, char **argv)
{
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
            fprintf(stderr, "tracekit: unknown command '%s' (see 'tracekit --help')\n", argv[2]);
            return TK_EXIT_USAGE;
        }
        char *args[] = {(char *)c->name, "--help", NULL};
        log_set_command(c->name);
        return c->fn(2, args);
    }
    const struct command *c = find(name);
    if (!c) {
        fprintf(stderr, "tracekit: unknown command '%s' (see 'tracekit --help')\n", name);
        return TK_EXIT_USAGE;
    }
    log_set_command(c->name);
    return c->fn(argc - 1, argv + 1);
}
