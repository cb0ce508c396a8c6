/*
 * cli.h — the private contract between the files of `mnemo`, the command-line
 * tool: the engine embedded on a directory the way `sqlite3 FILE` does (local
 * mode), or a client of a running mnemosyned the way redis-cli is (remote
 * mode, -h/-p/-a).
 *
 *   mnemo.c        main: the mode, global options, dispatch, usage, opening
 *                  the store, turning engine errors into messages and exit codes
 *   args.c         the option parser every command shares; strict numbers;
 *                  the checks of an append's arguments (both modes)
 *   output.c       events and infos as one-line JSON, timestamps
 *   cmd_append.c   append
 *   cmd_read.c     read, read-all
 *   cmd_admin.c    info, check, reindex
 *   remote.h       remote mode: the files that talk to mnemosyned (hiredis),
 *                  and the remote-only commands tail, trace, dlq
 *
 * A command has a local handler (run), a remote one (run_remote), or both;
 * main picks by the mode, and says which mode a command needs when it has
 * no handler for the one chosen.
 *
 * Conventions: a command handler returns the process exit code (CLI_EXIT_*);
 * it prints its own results on stdout and every error, one line each,
 * prefixed "mnemo: ", on stderr. Nothing is printed on stdout for a failure.
 */
#ifndef MN_CLI_H
#define MN_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "mnemosyne.h"
#include "util/buf.h"

/* Exit codes: part of the CLI's interface, scripts branch on them. */
enum {
    CLI_EXIT_OK = 0,        /* done */
    CLI_EXIT_DAMAGE = 1,    /* check found damage in the log */
    CLI_EXIT_USAGE = 2,     /* bad command line: nothing was done */
    CLI_EXIT_VERSION = 3,   /* an append's expected version did not hold */
    CLI_EXIT_RUNTIME = 4,   /* anything else: not found, I/O, format, lock */
};

/* Returned by cli_parse_args when --help was given and printed: the caller
 * exits CLI_EXIT_OK. Distinct from every exit code. */
#define CLI_HELP (-1)

/* Global state of one invocation, filled from the global options. */
typedef struct cli {
    const char *dir;             /* store directory: --dir, $MNEMO_DIR or ./data */
    int fsync_policy;            /* enum mn_fsync_policy, from --fsync */
    uint32_t fsync_interval_ms;  /* for MN_FSYNC_INTERVAL */
    int remote;                  /* 1: talk to a server (remote.h), not a directory */
    const char *host;            /* remote: -h, $MNEMO_HOST or 127.0.0.1 */
    int port;                    /* remote: -p, $MNEMO_PORT or 6363 */
    const char *auth;            /* remote: -a or $MNEMO_AUTH; NULL: no AUTH */
    int json;                    /* --json: JSON Lines instead of tables (remote) */
} cli;

/* A subcommand: the dispatcher's table row, defined by the command's file. */
typedef struct cli_command {
    const char *name;     /* "append" */
    const char *summary;  /* one line for `mnemo --help` */
    const char *usage;    /* the full text for `mnemo NAME --help` */
    int (*run)(cli *c, int argc, char **argv); /* argv[0] is the name; NULL:
                                                  remote only */
    int (*run_remote)(cli *c, int argc, char **argv); /* against a server
                                                  (-h/-p); NULL: local only */
    const char *remote_usage;  /* `mnemo -p P NAME --help`; NULL: usage */
} cli_command;

extern const cli_command cli_cmd_append;
extern const cli_command cli_cmd_read;
extern const cli_command cli_cmd_read_all;
extern const cli_command cli_cmd_info;
extern const cli_command cli_cmd_check;
extern const cli_command cli_cmd_reindex;
extern const cli_command cli_cmd_tail;
extern const cli_command cli_cmd_trace;
extern const cli_command cli_cmd_dlq;
extern const cli_command cli_cmd_saga;

/* The remote forms of the commands that have both (cmd_remote.c). */
int cli_remote_append(cli *c, int argc, char **argv);
int cli_remote_read(cli *c, int argc, char **argv);
int cli_remote_read_all(cli *c, int argc, char **argv);
int cli_remote_info(cli *c, int argc, char **argv); /* cmd_remote_info.c */
extern const char cli_remote_append_usage[];
extern const char cli_remote_read_usage[];
extern const char cli_remote_read_all_usage[];
extern const char cli_remote_info_usage[];

/* ---- args.c ------------------------------------------------------------ */

/* One option a command accepts: "--expect V" or "--expect=V", and a short
 * form ("-n 5", not "-n5") when the command gives one; -h is handled for
 * every command. */
typedef struct cli_opt {
    const char *name;     /* without the dashes: "expect" */
    int takes_value;      /* 1: needs a value; 0: a flag */
    const char **value;   /* out, takes_value: the last value given */
    int *flag;            /* out, flag: set to 1 when given */
    char short_name;      /* 'f' for "-f" as well, "-n 5" as well; 0: none */
} cli_opt;

/* Parses argv[1..argc) of command cmd: options may come anywhere before "--",
 * mixed with positionals; the global --dir and --fsync are accepted too. An
 * argument is an option if it starts with "--" or is "-h"; "-" and negative
 * numbers ("-5", handy as JSON data) are positionals; any other "-x" is an
 * unknown option. Positionals go to pos[0..*npos), and their number must be
 * within [min_pos, max_pos].
 * Returns 0, CLI_HELP (usage printed on stdout) or CLI_EXIT_USAGE (error
 * printed on stderr). */
int cli_parse_args(cli *c, const cli_command *cmd, int argc, char **argv,
                   const cli_opt *opts, size_t nopts, char **pos, int min_pos,
                   int max_pos, int *npos);

/* If argv[*i] is a global option (--dir D, --dir=D, --fsync P, --fsync=P,
 * --json), applies it to c, advancing *i past a separate value, and returns 0; returns
 * -1 if it is not one, CLI_EXIT_USAGE on a missing or bad value (error
 * printed; cmd may be NULL before the command is known). */
int cli_global_option(cli *c, const cli_command *cmd, int argc, char **argv, int *i);
/* (-h/-p/-a/--host/--port/--auth after the command are usage errors: they
 * choose the mode, so they go before it; mnemo.c reads them.) */

/* Strict decimal: digits only (no sign, no space, no "0x"), fully consumed,
 * no overflow, at most max. 0 or -1. */
int cli_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Sets c's fsync policy from "always", "never" or "interval:<ms>" (ms >= 1).
 * 0 or -1. */
int cli_parse_fsync(cli *c, const char *s);

/* --expect / --expected: any, none or nostream, exists (or ANY, NOSTREAM,
 * EXISTS as ES.APPEND spells them), or a version >= 0, into an engine value (MN_EXPECT_*). 0 or -1. */
int cli_parse_expect(const char *s, int64_t *out);

/* Checks an append's arguments the way the engine would, so that a bad one
 * is a usage error before anything is opened or sent: stream and type
 * lengths, --expect (into *expected, MN_EXPECT_ANY when NULL), --id (into
 * id, all zero when NULL; the nil UUID is refused), --meta (a JSON object).
 * 0 or CLI_EXIT_USAGE (printed). */
int cli_check_append(const cli_command *cmd, const char *stream, const char *type,
                     const char *expect_s, const char *id_s, const char *meta_s,
                     int64_t *expected, uint8_t id[16]);

/* The usage text of cmd in c's mode (its remote form when it has one). */
const char *cli_usage_text(const cli *c, const cli_command *cmd);

/* Prints "mnemo: <message>" and a hint to try --help on stderr; returns
 * CLI_EXIT_USAGE, so that `return cli_usage_error(...)` reads naturally. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- mnemo.c ----------------------------------------------------------- */

/* Opens the store in c->dir with c's fsync policy. read_only commands also
 * refuse to create the directory. Returns 0, or prints why and returns the
 * exit code. */
int cli_open(const cli *c, int read_only, mn_store **out);

/* Prints "mnemo: <what>: <detail>" for engine error err (detail: mn_errmsg(),
 * else mn_strerror()) and returns the exit code it maps to. what may be NULL. */
int cli_fail(int err, const char *what);

/* Reports MN_ELOCKED (the directory is open in another process) for c->dir
 * and returns CLI_EXIT_RUNTIME. */
int cli_fail_locked(const cli *c);

/* The exit code for engine error err. */
int cli_exit_code(int err);

/* ---- output.c ---------------------------------------------------------- */

/* Appends ev as one JSON object (no newline): stream, version, position, id,
 * type, data, meta, timestamp. data and meta are embedded as JSON when they
 * are valid JSON (re-written on one line), else as JSON strings; absent meta
 * is null; a field list (MN_EVENT_FIELDS, from XADD) is a JSON object. */
void out_event_json(buf *b, const mn_event_view *ev);

/* Appends p[0..n) as JSON: the value itself (compacted to one line) when it
 * is valid JSON, else a JSON string. */
void out_json_or_string(buf *b, const void *p, size_t n);

/* Appends "2024-05-01T12:34:56.123456Z" (UTC, microseconds), quoted. */
void out_timestamp(buf *b, uint64_t us);

/* Appends "ms-seq", quoted. */
void out_entry_id(buf *b, mn_entry_id id);

/* Writes b to stdout and resets it. 0, or -1 if the write failed (or b ran
 * out of memory), after saying so on stderr. */
int out_flush(buf *b);

/* Flushes stdout and reports a failed write (full disk, closed pipe) on
 * stderr. Returns the exit code: CLI_EXIT_OK or CLI_EXIT_RUNTIME. */
int out_finish(void);

#endif
