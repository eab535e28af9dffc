/* opendc_verify.h -- check an OpenDC workload folder (tasks.parquet,
 * fragments.parquet, topology.json, experiment.json) the way OpenDC will
 * read it, with our Parquet reader.  FAIL only where OpenDC refuses the
 * files or silently drops or terminates tasks: the schema against OpenDC's
 * requested schema (exact names, physical types, REQUIRED repetition,
 * logical types), duplicate task ids, tasks without fragments, tasks that
 * fit no host, a topology or experiment it cannot decode.  WARN, with the
 * reason, where OpenDC accepts what a user may not expect: legacy topology
 * keys and bare numbers (read as OpenDC reads them, then checked), no
 * power model, no topology at all (the workload is checked alone), fragment
 * sums other than the duration, usage above cpu_count x core speed, a
 * mem_capacity OpenDC rounds to 0 MiB.  One line per check on out, then a
 * summary. */
#ifndef TK_OPENDC_VERIFY_H
#define TK_OPENDC_VERIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* topology: NULL for DIR/topology.json (a missing one is a warning; a
 * named one must exist).  Returns the number of failed checks (0 = OpenDC
 * reads the workload; warnings do not count). */
int odc_verify(const char *dir, const char *topology, FILE *out);

/* "2.4 GHz" -> 2400 (MHz); "16 GiB" -> 16384 (MiB).  -1 if the text is not
 * a number with a unit OpenDC knows. */
double odc_parse_frequency_mhz(const char *s);
double odc_parse_size_mib(const char *s);
/* "180 W", "1.2 kW" -> watts; -1 if not a power OpenDC reads. */
double odc_parse_power_w(const char *s);

/* A unit value as OpenDC's UnitSerializer.kt reads it: a number (or a
 * numeric string) in the default unit (*bare set: OpenDC accepts it, the
 * verifier warns), else a number with a unit read by parse; -1 when it does
 * not parse (OpenDC refuses the file).  bare may be NULL. */
double odc_unit_value(const json_t *j, double (*parse)(const char *), bool *bare);

#endif
