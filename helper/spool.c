/*
 * spool.c
 *		The event spool (see spool.h): an in-memory queue guarded by
 *		spool_lock, mirrored in an append-only file whose I/O is serialised
 *		by file_lock (never held with spool_lock, so that no event waits on
 *		a rewrite).  An event leaving the queue appends an acknowledgement
 *		line ("a1 <key>"); the file is emptied when the queue is, and
 *		compacted (temp file + rename) when acknowledgements dominate it.
 *		A lock file keeps two helpers with the same tunnel name from sharing
 *		one spool.
 *
 *		Why nothing is lost across a power cut, not only a crash:
 *		- spool_add returns only after its line is on disk: write(2), then
 *		  fdatasync(2), which also makes the new file size durable.
 *		  Concurrent adders share one fdatasync (group commit).
 *		- An acknowledgement is written without a sync of its own: losing
 *		  one replays an event that already reached the database, and the
 *		  database takes events idempotently by key (report_event).  The
 *		  same holds for an emptied file that comes back.
 *		- A new file (compaction, or a first file) is written to NAME.tmp
 *		  (O_EXCL|O_NOFOLLOW), fdatasync'ed, renamed over NAME, and the
 *		  folder is fsync'ed before any later event is appended to it, so
 *		  the folder entry can never point to a file older than an event
 *		  already reported as kept.  A crash before the rename leaves the
 *		  old file, which holds a superset of the pending events.
 *		- The folder itself is fsync'ed in its parent when created.
 *		- At load, a line cut short by the cut (no newline) or damaged is
 *		  reported and skipped; the file is then rewritten from what parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "service_user.h"
#include "spool.h"
#include "stats.h"

static pthread_mutex_t spool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static spool_event *queue;
static int	qlen;
static int	qcap;
static int	max_events = 10000;
static int64_t dropped;
static bool is_open;

static int	fd = -1;
static int	lock_fd = -1;
static char *file_path;
static bool needs_rewrite;		/* the file is out of step with the queue */
static bool warned_write;

/*
 * Lines rendered under spool_lock and not yet written (out_buf), with the
 * sequence numbers that tell an adder whether its line is synced.  Guarded
 * by spool_lock; the file's own state (fd, acks_in_file) by file_lock.
 */
static char *out_buf;
static size_t out_len;
static size_t out_cap;
static uint64_t out_seq;		/* last line put into out_buf */
static uint64_t synced_seq;		/* last line known to be on disk */
static int	acks_in_file;		/* acknowledgement lines since the last rewrite */

/* Compact the file when it holds more acknowledgements than this... */
#define COMPACT_MIN_ACKS 1024

static int64_t start_us;
static uint64_t seq;

/* Free one event's detail. */
static void
event_free(spool_event *e)
{
	free(e->detail);
	e->detail = NULL;
}

/* Append a copy of e to the queue.  Returns 0, or -1 out of memory. */
static int
queue_push(const spool_event *e)
{
	spool_event *slot;

	if (qlen == qcap)
	{
		int			ncap = qcap ? qcap * 2 : 64;
		spool_event *nq = realloc(queue, (size_t) ncap * sizeof(*nq));

		if (nq == NULL)
			return -1;
		queue = nq;
		qcap = ncap;
	}
	slot = &queue[qlen];
	*slot = *e;
	slot->detail = strdup(e->detail ? e->detail : "");
	if (slot->detail == NULL)
		return -1;
	qlen++;
	return 0;
}

/*
 * Render e as one spool line (with its newline) in a malloc'd string.
 * Returns it, or NULL out of memory.
 */
static char *
render_line(const spool_event *e, size_t *lenp)
{
	size_t		dlen = strlen(e->detail);
	size_t		cap = strlen(e->key) + strlen(e->occurred_at) + strlen(e->event) + 2 * dlen + 16;
	char	   *line = malloc(cap);
	size_t		n;
	const char *p;

	if (line == NULL)
		return NULL;
	n = (size_t) snprintf(line, cap, "v1\t%s\t%s\t%s\t", e->key, e->occurred_at, e->event);
	for (p = e->detail; *p; p++)
	{
		switch (*p)
		{
			case '\\':
				line[n++] = '\\';
				line[n++] = '\\';
				break;
			case '\t':
				line[n++] = '\\';
				line[n++] = 't';
				break;
			case '\n':
				line[n++] = '\\';
				line[n++] = 'n';
				break;
			case '\r':
				line[n++] = '\\';
				line[n++] = 'r';
				break;
			default:
				line[n++] = *p;
				break;
		}
	}
	line[n++] = '\n';
	line[n] = '\0';
	*lenp = n;
	return line;
}

/* write(2) all of buf.  Returns 0, or -1 with errno set. */
static int
write_all(int wfd, const char *buf, size_t len)
{
	while (len > 0)
	{
		ssize_t		w = write(wfd, buf, len);

		if (w < 0)
		{
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t) w;
	}
	return 0;
}

/* Warn once about a spool file that cannot be written (file_lock held). */
static void
warn_write(const char *what)
{
	if (warned_write)
		return;
	warned_write = true;
	log_msg(LOG_WARN, "spool_unwritable", "file=%s op=%s error=%s detail=\"%s\"",
			file_path ? file_path : "-", what, strerror(errno),
			"events kept in memory only, not across a restart; "
			"TUNNEL_STATE_DIR must be writable by its owner, the user chatgenius-tunnel runs as");
}

/*
 * Appends text to out_buf (spool_lock held; file_path is set and cleared
 * with both locks held, so it can be read here).  Returns 0, or -1 out of
 * memory (out_lost is then set: the next flush rewrites the file).
 */
static bool out_lost;

static int
out_append(const char *text, size_t len)
{
	if (file_path == NULL)
		return 0;				/* memory-only: nothing to write */
	if (out_len + len + 1 > out_cap)
	{
		size_t		ncap = out_cap ? out_cap * 2 : 4096;
		char	   *nb;

		while (ncap < out_len + len + 1)
			ncap *= 2;
		nb = realloc(out_buf, ncap);
		if (nb == NULL)
		{
			out_lost = true;
			return -1;
		}
		out_buf = nb;
		out_cap = ncap;
	}
	memcpy(out_buf + out_len, text, len);
	out_len += len;
	return 0;
}

/*
 * Puts an event's line into out_buf (spool_lock held).  Returns its
 * sequence number, which spool_add waits to see synced.
 */
static uint64_t
out_event(const spool_event *e)
{
	size_t		len;
	char	   *line = render_line(e, &len);

	if (line == NULL)
		out_lost = true;
	else
		(void) out_append(line, len);
	free(line);
	return ++out_seq;
}

/* Puts an acknowledgement line for key into out_buf (spool_lock held). */
static void
out_ack(const char *key)
{
	char		line[SPOOL_KEY_MAX + 8];
	int			n = snprintf(line, sizeof(line), "a1\t%s\n", key);

	(void) out_append(line, (size_t) n);
}

/* fsync(2) the folder holding path, so a rename or creation in it lasts. */
static int
sync_parent(const char *path)
{
	char		dir[4096];
	char	   *slash;
	int			dfd,
				rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	rc = fsync(dfd);
	close(dfd);
	return rc;
}

/*
 * Replace the file with the queue's contents (file_lock held, spool_lock
 * not): snapshot the queue and what waits in out_buf under spool_lock,
 * then NAME.tmp (O_EXCL|O_NOFOLLOW), fdatasync, rename, fsync of the
 * folder, and reopen for appending.  Returns 0, or -1 (needs_rewrite stays
 * set).
 */
static int
rewrite_file(void)
{
	char		tmp[4096];
	char	   *buf = NULL;
	size_t		len = 0,
				cap = 0;
	uint64_t	snap_seq;
	int			tfd;
	int			i;
	bool		oom = false;

	if (file_path == NULL)
		return -1;
	needs_rewrite = true;

	pthread_mutex_lock(&spool_lock);
	for (i = 0; i < qlen && !oom; i++)
	{
		size_t		llen;
		char	   *line = render_line(&queue[i], &llen);

		if (line == NULL)
			oom = true;
		else
		{
			if (len + llen > cap)
			{
				size_t		ncap = cap ? cap * 2 : 65536;
				char	   *nb;

				while (ncap < len + llen)
					ncap *= 2;
				nb = realloc(buf, ncap);
				if (nb == NULL)
					oom = true;
				else
				{
					buf = nb;
					cap = ncap;
				}
			}
			if (!oom)
			{
				memcpy(buf + len, line, llen);
				len += llen;
			}
			free(line);
		}
	}
	snap_seq = out_seq;
	if (!oom)
	{
		/* the snapshot holds every line waiting in out_buf */
		out_len = 0;
		out_lost = false;
	}
	pthread_mutex_unlock(&spool_lock);
	if (oom)
	{
		free(buf);
		errno = ENOMEM;
		warn_write("rewrite");
		return -1;
	}

	snprintf(tmp, sizeof(tmp), "%s.tmp", file_path);
	(void) unlink(tmp);			/* left by a crash; O_EXCL refuses it */
	tfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (tfd < 0)
	{
		free(buf);
		warn_write("create");
		return -1;
	}
	if ((len > 0 && write_all(tfd, buf, len) != 0) || fdatasync(tfd) != 0)
	{
		free(buf);
		warn_write("write");
		close(tfd);
		unlink(tmp);
		return -1;
	}
	free(buf);
	if (close(tfd) != 0)
	{
		warn_write("close");
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, file_path) != 0)
	{
		warn_write("rename");
		unlink(tmp);
		return -1;
	}
	/* the new name must last before any event is appended to it */
	if (sync_parent(file_path) != 0)
	{
		warn_write("sync folder");
		return -1;
	}
	if (fd >= 0)
		close(fd);
	fd = open(file_path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
	{
		warn_write("open");
		return -1;
	}
	needs_rewrite = false;
	warned_write = false;
	acks_in_file = 0;
	if (snap_seq > synced_seq)
		synced_seq = snap_seq;
	return 0;
}

/*
 * Write what waits in out_buf to the file (file_lock held, spool_lock
 * not), with fdatasync when sync is set; empty the file when the queue is
 * empty, rewrite it when it is out of step, compact it when
 * acknowledgements dominate.  Returns nothing: failures are warned about
 * once, and the events stay in memory.
 */
static void
file_flush(bool sync)
{
	char	   *buf;
	size_t		len;
	uint64_t	seq_now;
	int			pending,
				acks = 0;
	bool		lost;

	if (file_path == NULL)
		return;
	pthread_mutex_lock(&spool_lock);
	lost = out_lost;
	pending = qlen;
	seq_now = out_seq;
	buf = out_buf;
	len = out_len;
	out_buf = NULL;
	out_len = out_cap = 0;
	pthread_mutex_unlock(&spool_lock);

	for (size_t i = 0; i + 2 < len; i++)
		if ((i == 0 || buf[i - 1] == '\n') && buf[i] == 'a' && buf[i + 1] == '1')
			acks++;

	if (needs_rewrite || fd < 0 || lost)
	{
		/* the rewrite snapshots the queue: buf's lines are in it or acked */
		free(buf);
		pthread_mutex_lock(&spool_lock);
		out_lost = false;
		pthread_mutex_unlock(&spool_lock);
		rewrite_file();
		if (seq_now > synced_seq)
			synced_seq = seq_now;	/* kept in memory if the rewrite failed */
		return;
	}
	if (pending == 0)
	{
		/* every event reached the database: the file can be empty */
		if (ftruncate(fd, 0) != 0)
		{
			warn_write("truncate");
			needs_rewrite = true;
		}
		acks_in_file = 0;
	}
	else
	{
		/*
		 * An adder's line may have been written by a flush without sync (an
		 * acknowledgement's): a sync then still happens here, with buf empty.
		 */
		if (len > 0 && write_all(fd, buf, len) != 0)
		{
			warn_write("append");
			needs_rewrite = true;
		}
		else if (sync && fdatasync(fd) != 0)
		{
			warn_write("sync");
			needs_rewrite = true;
		}
		acks_in_file += acks;
	}
	free(buf);
	if ((sync || pending == 0) && seq_now > synced_seq)
		synced_seq = seq_now;
	if (acks_in_file > COMPACT_MIN_ACKS && acks_in_file > pending)
		rewrite_file();
}

/* Whether t has pat's shape: 'd' a digit, any other character itself. */
static bool
time_matches(const char *t, const char *pat)
{
	if (strlen(t) != strlen(pat))
		return false;
	for (int i = 0; pat[i]; i++)
		if (pat[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != pat[i])
			return false;
	return true;
}

/*
 * Parse one spool line (without its newline) into e (detail malloc'd).
 * Returns 0, or -1 when the line is not a valid record.
 */
static int
parse_line(char *line, spool_event *e)
{
	char	   *field[5];
	char	   *p = line;
	/* clock_format_utc's form; the second is what earlier helpers wrote */
	static const char *const pats[] = {
		"dddd-dd-ddTdd:dd:dd.ddddddZ", "dddd-dd-dd dd:dd:dd.dddddd+00"
	};
	char	   *d;
	char	   *w;
	int			i;
	event_id	id;

	for (i = 0; i < 4; i++)
	{
		char	   *tab = strchr(p, '\t');

		if (tab == NULL)
			return -1;
		*tab = '\0';
		field[i] = p;
		p = tab + 1;
	}
	field[4] = p;
	if (strchr(field[4], '\t') != NULL || strcmp(field[0], "v1") != 0)
		return -1;
	if (field[1][0] == '\0' || strlen(field[1]) >= SPOOL_KEY_MAX)
		return -1;
	for (p = field[1]; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_' || *p == '.'))
			return -1;
	if (!time_matches(field[2], pats[0]) && !time_matches(field[2], pats[1]))
		return -1;
	if (!event_by_name(field[3], &id))
		return -1;

	d = malloc(strlen(field[4]) + 1);
	if (d == NULL)
		return -1;
	for (p = field[4], w = d; *p; p++)
	{
		if (*p != '\\')
		{
			*w++ = *p;
			continue;
		}
		p++;
		if (*p == '\\')
			*w++ = '\\';
		else if (*p == 't')
			*w++ = '\t';
		else if (*p == 'n')
			*w++ = '\n';
		else if (*p == 'r')
			*w++ = '\r';
		else
		{
			free(d);
			return -1;
		}
	}
	*w = '\0';
	snprintf(e->key, sizeof(e->key), "%s", field[1]);
	snprintf(e->occurred_at, sizeof(e->occurred_at), "%s", field[2]);
	snprintf(e->event, sizeof(e->event), "%s", field[3]);
	e->detail = d;
	return 0;
}

/*
 * Forget the pending event with this key: its acknowledgement line was
 * read.  Acknowledgements come oldest first, so the head matches at once.
 * Returns 0, or -1 when no pending event has the key.
 */
static int
ack_key(const char *key)
{
	int			i;

	for (i = 0; i < qlen; i++)
		if (strcmp(queue[i].key, key) == 0)
		{
			event_free(&queue[i]);
			memmove(queue + i, queue + i + 1, (size_t) (qlen - i - 1) * sizeof(*queue));
			qlen--;
			return 0;
		}
	return -1;
}

/*
 * Load the events an earlier run left in the file.  Returns how many
 * lines were skipped (corrupt or beyond the bound).
 */
static int
load_file(void)
{
	FILE	   *f = fopen(file_path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	int			lineno = 0;
	int			skipped = 0;
	int			acked = 0;

	if (f == NULL)
	{
		if (errno != ENOENT)
			warn_write("read");
		return 0;
	}
	while ((len = getline(&line, &cap, f)) >= 0)
	{
		spool_event e;

		lineno++;
		if (len == 0 || line[len - 1] != '\n')
		{
			log_msg(LOG_WARN, "spool_corrupt_line", "file=%s line=%d reason=truncated",
					file_path, lineno);
			skipped++;
			continue;
		}
		line[len - 1] = '\0';
		if (strncmp(line, "a1\t", 3) == 0)
		{
			/* an event dropped at the bound may have its ack: harmless */
			(void) ack_key(line + 3);
			acked++;
			continue;
		}
		memset(&e, 0, sizeof(e));
		if (parse_line(line, &e) != 0)
		{
			log_msg(LOG_WARN, "spool_corrupt_line", "file=%s line=%d reason=unparsable",
					file_path, lineno);
			skipped++;
			continue;
		}
		if (qlen >= max_events)
		{
			dropped++;
			skipped++;
		}
		else if (queue_push(&e) != 0)
		{
			dropped++;
			skipped++;
		}
		event_free(&e);
	}
	free(line);
	fclose(f);
	if (qlen > 0)
		log_msg(LOG_INFO, "spool_loaded", "file=%s events=%d", file_path, qlen);
	acks_in_file = acked;
	return skipped;
}

/*
 * mkdir -p with mode 0700 for the folders it creates, each made durable in
 * its parent.  Returns 0 or -1 with errno set.
 */
static int
make_dirs(const char *dir)
{
	char		buf[4096];
	char	   *p;
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int) sizeof(buf))
	{
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1;; p++)
	{
		bool		last = *p == '\0';

		if (!last && *p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) == 0)
			(void) sync_parent(buf);
		else if (errno != EEXIST)
			return -1;
		if (last)
			break;
		*p = '/';
	}
	if (stat(buf, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
	{
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/*
 * Whether the state folder is safe to trust, as OpenSSH judges ~/.ssh
 * (secure_permissions): owned by the user the helper runs as or by root,
 * and writable by nobody else.  Returns 0, or -1 with the reason in err.
 */
static int
check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (stat(dir, &st) != 0)
	{
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022) != 0)
	{
		snprintf(err, errlen,
				 "Bad owner or permissions on %s (owner uid %d, mode 0%03o): "
				 "TUNNEL_STATE_DIR must be owned by the user chatgenius-tunnel runs as "
				 "and writable by nobody else",
				 dir, (int) st.st_uid, (unsigned int) (st.st_mode & 0777));
		return -1;
	}
	if (access(dir, W_OK | X_OK) != 0)
	{
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The spool file's name for a tunnel: the name with characters other than
 * [A-Za-z0-9._-] replaced by '_', plus a hash of the exact name (so that
 * two names that sanitise alike still get two files).
 */
static void
spool_file_name(const char *tunnel_name, char *buf, size_t len)
{
	uint32_t	h = 2166136261u;
	const unsigned char *p;
	char		safe[128];
	size_t		n = 0;

	for (p = (const unsigned char *) tunnel_name; *p; p++)
	{
		h = (h ^ *p) * 16777619u;
		if (n + 1 < sizeof(safe))
			safe[n++] = ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
						 (*p >= 'A' && *p <= 'Z') || *p == '.' || *p == '-') ? (char) *p : '_';
	}
	safe[n] = '\0';
	snprintf(buf, len, "%s-%08" PRIx32 ".spool", safe, h);
}

/*
 * Add an events_dropped record when events were dropped and room is back
 * (spool_lock held; the caller flushes).
 */
static void
note_dropped(void)
{
	spool_event e;
	char		detail[64];

	if (dropped == 0 || qlen >= max_events)
		return;
	memset(&e, 0, sizeof(e));
	snprintf(detail, sizeof(detail), "count=%" PRId64, dropped);
	snprintf(e.key, sizeof(e.key), "%" PRId64 "-%d-%" PRIu64, start_us, (int) getpid(), ++seq);
	clock_format_utc(clock_wall_us(), 6, e.occurred_at, sizeof(e.occurred_at));
	snprintf(e.event, sizeof(e.event), "%s", event_name(EV_EVENTS_DROPPED));
	e.detail = detail;
	log_event(event_level(EV_EVENTS_DROPPED), event_name(EV_EVENTS_DROPPED),
			  "count=%" PRId64, dropped);
	if (queue_push(&e) == 0)
	{
		dropped = 0;
		(void) out_event(&queue[qlen - 1]);
	}
}

/* See spool.h.  Returns 0 with the file in use, -1 when memory-only. */
int
spool_open(const char *dir, const char *tunnel_name, int max)
{
	char		name[256];
	char		lock_path[4200];
	char		why[512];
	size_t		plen;
	int			skipped;
	int			rc;

	pthread_mutex_lock(&file_lock);
	pthread_mutex_lock(&spool_lock);
	is_open = true;
	max_events = max > 0 ? max : 1;
	start_us = clock_wall_us();
	seq = 0;
	spool_file_name(tunnel_name, name, sizeof(name));

	why[0] = '\0';
	if (dir == NULL)
		snprintf(why, sizeof(why), "no folder");
	else if (make_dirs(dir) != 0)
		snprintf(why, sizeof(why), "%s", strerror(errno));
	else
		(void) check_dir(dir, why, sizeof(why));
	if (why[0] != '\0')
	{
		char		who[128];

		log_msg(LOG_WARN, "spool_unwritable", "dir=%s error=\"%s\" detail=\"%s (%s)\"",
				dir ? dir : "-", why,
				"events kept in memory only, not across a restart; TUNNEL_STATE_DIR "
				"must be a folder writable by the user chatgenius-tunnel runs as",
				service_user(who, sizeof(who)));
		pthread_mutex_unlock(&spool_lock);
		pthread_mutex_unlock(&file_lock);
		return -1;
	}
	plen = strlen(dir) + strlen(name) + 2;
	file_path = malloc(plen);
	if (file_path == NULL)
	{
		pthread_mutex_unlock(&spool_lock);
		pthread_mutex_unlock(&file_lock);
		return -1;
	}
	snprintf(file_path, plen, "%s/%s", dir, name);
	snprintf(lock_path, sizeof(lock_path), "%s.lock", file_path);
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
	{
		bool		busy = lock_fd >= 0 && errno == EWOULDBLOCK;

		log_msg(LOG_WARN, "spool_unwritable", "file=%s error=%s detail=\"events kept in memory\"",
				file_path,
				busy ? "\"another chatgenius-tunnel with this TUNNEL_NAME holds the spool\""
				: strerror(errno));
		if (lock_fd >= 0)
			close(lock_fd);
		lock_fd = -1;
		free(file_path);
		file_path = NULL;
		pthread_mutex_unlock(&spool_lock);
		pthread_mutex_unlock(&file_lock);
		return -1;
	}

	skipped = load_file();
	if (skipped > 0 || access(file_path, F_OK) != 0)
		needs_rewrite = true;
	else
	{
		fd = open(file_path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
		{
			warn_write("open");
			needs_rewrite = true;
		}
	}
	note_dropped();
	pthread_mutex_unlock(&spool_lock);
	if (needs_rewrite)
		rewrite_file();
	else
		file_flush(true);
	rc = file_path != NULL && !needs_rewrite ? 0 : -1;
	pthread_mutex_unlock(&file_lock);
	return rc;
}

/* See spool.h: a reload changed TUNNEL_SPOOL_MAX.  Returns nothing. */
void
spool_set_max(int max)
{
	pthread_mutex_lock(&spool_lock);
	if (max > 0)
		max_events = max;
	note_dropped();
	pthread_mutex_unlock(&spool_lock);
	pthread_mutex_lock(&file_lock);
	file_flush(true);
	pthread_mutex_unlock(&file_lock);
}

/*
 * See spool.h.  Returns 0 when the event is kept (on disk when the spool
 * has a file: its line is fdatasync'ed before this returns), -1 when
 * dropped.
 */
int
spool_add(event_id id, const char *detail, int64_t wall_us)
{
	spool_event e;
	int			rc = 0;
	uint64_t	my_seq = 0;

	memset(&e, 0, sizeof(e));
	snprintf(e.event, sizeof(e.event), "%s", event_name(id));
	e.detail = (char *) (detail ? detail : "");
	clock_format_utc(wall_us, 6, e.occurred_at, sizeof(e.occurred_at));

	pthread_mutex_lock(&spool_lock);
	if (!is_open)
	{
		pthread_mutex_unlock(&spool_lock);
		return -1;
	}
	note_dropped();
	snprintf(e.key, sizeof(e.key), "%" PRId64 "-%d-%" PRIu64, start_us, (int) getpid(), ++seq);
	if (qlen >= max_events || queue_push(&e) != 0)
	{
		dropped++;
		stats_add_events_dropped(1);
		rc = -1;
	}
	else
		my_seq = out_event(&queue[qlen - 1]);
	pthread_mutex_unlock(&spool_lock);

	/* group commit: whoever holds file_lock syncs every line written so far */
	pthread_mutex_lock(&file_lock);
	if (my_seq > synced_seq)
		file_flush(true);
	pthread_mutex_unlock(&file_lock);
	return rc;
}

/* See spool.h.  Returns how many events were copied into out. */
int
spool_peek_if(spool_event *out, int max, spool_filter take, void *arg)
{
	int			n = 0;
	int			i;

	pthread_mutex_lock(&spool_lock);
	for (i = 0; i < qlen && n < max; i++)
	{
		if (take != NULL && !take(&queue[i], arg))
			continue;
		out[n] = queue[i];
		out[n].detail = strdup(queue[i].detail);
		if (out[n].detail == NULL)
			break;
		n++;
	}
	pthread_mutex_unlock(&spool_lock);
	return n;
}

/* See spool.h.  Returns how many pending events take() is true for. */
int
spool_count_if(spool_filter take, void *arg)
{
	int			n = 0;

	pthread_mutex_lock(&spool_lock);
	for (int i = 0; i < qlen; i++)
		n += take(&queue[i], arg) ? 1 : 0;
	pthread_mutex_unlock(&spool_lock);
	return n;
}

/* See spool.h.  Returns how many events were copied into out. */
int
spool_peek(spool_event *out, int max)
{
	return spool_peek_if(out, max, NULL, NULL);
}

/* Free the details of events copied by spool_peek.  Returns nothing. */
void
spool_events_free(spool_event *events, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		event_free(&events[i]);
}

/*
 * See spool.h: these reached the database (or never will).  One pass over
 * the queue: done holds a subsequence of it, in its order (the reporter is
 * the only one that removes events).  An acknowledgement line per event,
 * appended without a sync of its own (see the top of the file); the queue
 * lock is held only for the memory work.  Returns nothing.
 */
void
spool_ack_events(const spool_event *done, int n)
{
	int			i,
				kept = 0,
				j = 0;

	pthread_mutex_lock(&spool_lock);
	for (i = 0; i < qlen; i++)
	{
		if (j < n && strcmp(queue[i].key, done[j].key) == 0)
		{
			out_ack(queue[i].key);
			event_free(&queue[i]);
			j++;
			continue;
		}
		queue[kept++] = queue[i];
	}
	qlen = kept;
	note_dropped();
	pthread_mutex_unlock(&spool_lock);
	if (j == 0)
		return;
	pthread_mutex_lock(&file_lock);
	file_flush(false);
	pthread_mutex_unlock(&file_lock);
}

/* Returns the number of events not yet written to the database. */
int
spool_pending(void)
{
	int			n;

	pthread_mutex_lock(&spool_lock);
	n = qlen;
	pthread_mutex_unlock(&spool_lock);
	return n;
}

/* Returns whether the spool is open (run command), so events are kept. */
int
spool_is_open(void)
{
	int			o;

	pthread_mutex_lock(&spool_lock);
	o = is_open;
	pthread_mutex_unlock(&spool_lock);
	return o;
}

/* See spool.h: pending events stay in the file for the next run. */
void
spool_close(void)
{
	int			i;

	pthread_mutex_lock(&file_lock);
	file_flush(true);
	pthread_mutex_lock(&spool_lock);
	for (i = 0; i < qlen; i++)
		event_free(&queue[i]);
	free(queue);
	queue = NULL;
	qlen = qcap = 0;
	free(out_buf);
	out_buf = NULL;
	out_len = out_cap = 0;
	out_lost = false;
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
	free(file_path);
	file_path = NULL;
	is_open = false;
	needs_rewrite = false;
	warned_write = false;
	acks_in_file = 0;
	dropped = 0;
	pthread_mutex_unlock(&spool_lock);
	pthread_mutex_unlock(&file_lock);
}
