/* run.h -- where a run's files live: RUN_ID, NODE_ID, STAGE and the logs
 * folder, resolved once from flags, the original environment variables and
 * run_id.env, so every command agrees (original bug B22). */
#ifndef TK_RUN_H
#define TK_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* What to do when neither --run-id, RUN_ID nor run_id.env gives a run id. */
enum run_id_fallback {
    RUNID_NEW,      /* make a new UTC timestamp id (collect, exec) */
    RUNID_NEWEST,   /* the most recently modified folder under logs (parse) */
    RUNID_REQUIRED, /* error */
};

struct run_ctx {
    char *run_id;
    const char *run_id_source;  /* "--run-id", "RUN_ID", "run_id.env", "new", "newest" */
    char *node_id;
    char *stage;
    char *logs;      /* logs folder (default "logs") */
    char *run_dir;   /* logs/RUN_ID */
};

/* Each *_opt may be NULL (not given).  Returns 0, or -1 with a message in err. */
int run_ctx_resolve(struct run_ctx *c, const char *run_id_opt, const char *node_opt,
                    const char *stage_opt, const char *logs_opt, enum run_id_fallback fb,
                    char *err, size_t errlen);
void run_ctx_free(struct run_ctx *c);

/* True if s is usable as a run id / node id (folder-name safe, 1..128 chars). */
bool run_id_valid(const char *s);
/* That rule, for messages: "expected " RUN_ID_RULE. */
#define RUN_ID_RULE "1-128 letters, digits or ._-()+:, not '.' or '..'"

/* Value of RUN_ID= in a run_id.env file (malloc'd), or NULL. */
char *run_id_from_env_file(const char *path);
/* A new id: UTC time as YYYYmmddTHHMMSSZ (malloc'd). */
char *run_id_new(void);
/* This machine's host name (malloc'd). */
char *host_name(void);

/* trace id -> the exec_id its record in RUN_DIR/ledger.jsonl names (written
 * by dispatch --wait), as a JSON object (new reference), or NULL when the run
 * has no readable ledger.  Malformed lines are skipped. */
json_t *run_ledger_execs(const char *run_dir);

#endif
