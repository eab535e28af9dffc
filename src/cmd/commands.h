/* commands.h -- one entry point per subcommand, each in src/cmd/<name>.c.
 * argv[0] is the subcommand name; return the process exit code. */
#ifndef TK_COMMANDS_H
#define TK_COMMANDS_H

int cmd_collect(int argc, char **argv);
int cmd_parse(int argc, char **argv);
int cmd_gather(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_gen_inputs(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_scheduler(int argc, char **argv);
int cmd_proxy(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_links(int argc, char **argv);
int cmd_local(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_dispatch(int argc, char **argv);

#endif
