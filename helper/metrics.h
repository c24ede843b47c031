/*
 * metrics.h
 *		The helper's figures in Prometheus' text exposition format (0.0.4),
 *		for GET /metrics (http_server.h).  Every figure comes from where
 *		`chatgenius-tunnel status` takes it (stats.h, status_board.h, the
 *		spool): the two never disagree, and nothing is counted twice.
 *		Names follow Prometheus' conventions: chatgenius_tunnel_ prefix,
 *		counters end in _total, durations are histograms in _seconds.
 */
#ifndef CHATGENIUS_METRICS_H
#define CHATGENIUS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing text buffer; the caller frees buf. */
typedef struct metrics_text
{
	char	   *buf;
	size_t		len;
	size_t		cap;
	bool		failed;			/* out of memory: the text is incomplete */
} metrics_text;

/* HTTP's own figures, kept by http_server.c and passed in. */
typedef struct metrics_http
{
	int64_t		requests;
	int64_t		rejected_busy;		/* too many connections at once */
	int64_t		rejected_timeout;	/* the request was not in within the bound */
	int64_t		rejected_too_large; /* the request was over the size bound */
	int64_t		rejected_bad;		/* not a request line we serve */
} metrics_http;

/*
 * Append the whole exposition to out.  Returns 0, or -1 when out of
 * memory.
 */
extern int	metrics_render(metrics_text *out, const metrics_http *http);

#endif							/* CHATGENIUS_METRICS_H */
