/* replay_out.h -- the replay's prediction as OpenDC's own output files
 * (task.parquet, host.parquet), with OpenDC's column names, types and time
 * bases (docs/replay.md "OpenDC-shaped output"). */
#ifndef TK_OPENDC_REPLAY_OUT_H
#define TK_OPENDC_REPLAY_OUT_H

#include "opendc/replay_load.h"

/* DIR (created) /task.parquet and /host.parquet.  0, or -1 with err. */
int rp_write_opendc_output(const char *dir, const struct rp_replay *r, char *err, size_t errlen);

#endif
