/* opendc_verify.h -- check an OpenDC workload folder (tasks.parquet,
 * fragments.parquet, topology.json) the way OpenDC will read it, with our
 * Parquet reader: the schema against OpenDC's requested schema (exact
 * names, physical types, REQUIRED repetition, logical types), unique task
 * ids, every fragment's id a task id, every task with fragments, positive
 * durations, fragment durations summing to the task's duration,
 * cpu_usage <= cpu_count x core speed, tasks that fit the largest host, and
 * a topology with unit strings.  One line per check on out, then a summary. */
#ifndef TK_OPENDC_VERIFY_H
#define TK_OPENDC_VERIFY_H

#include <stdio.h>

/* topology: NULL for DIR/topology.json.  Returns the number of failed
 * checks (0 = the workload passes). */
int odc_verify(const char *dir, const char *topology, FILE *out);

/* "2.4 GHz" -> 2400 (MHz); "16 GiB" -> 16384 (MiB).  -1 if the text is not
 * a number with a unit OpenDC knows. */
double odc_parse_frequency_mhz(const char *s);
double odc_parse_size_mib(const char *s);

#endif
