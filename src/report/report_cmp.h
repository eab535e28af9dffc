/* report_cmp.h -- the report's section comparing the measured run with
 * OpenDC's output (tracekit report --opendc-output; the figures are
 * tracekit compare's, opendc/opendc_compare.h).  Pure: figures in, HTML out. */
#ifndef TK_REPORT_CMP_H
#define TK_REPORT_CMP_H

#include "common/jsonl.h"
#include "opendc/opendc_compare.h"

/* dir: the output folder compared (shown); width: the charts' width in px. */
void report_cmp_section_html(const struct odc_cmp *c, const char *dir, int width, struct jbuf *b);

#endif
