/* dc_settings.h: discod's settings as one table (dc_config.c's source).
 *
 * Every setting is one row of dc_settings: its flag, its config-file key, how
 * its value is read, its default, its bounds and its help line. The defaults
 * (dc_config_defaults), the config file (dc_config_load_file), the flags and
 * --help (dc_config_from_args) and the check that config/discod.conf
 * documents every key (tests/unit/test_config.c) are all derived from it;
 * a new setting is a new row here and a field in dc_config_t. Used by
 * dc_config.c alone. */
#ifndef DC_SETTINGS_H
#define DC_SETTINGS_H

#include "dc_config.h"

typedef enum {
    DC_SETTING_INT,    /* a whole number in [min, max], into an int, int64_t or uint64_t field */
    DC_SETTING_BOOL,   /* true|false; with no `arg`, a flag without a value (true) */
    DC_SETTING_CHOICE, /* one of the names in `choices` ("a|b|c"): the field gets its index */
    DC_SETTING_STRING, /* a string; empty: NULL */
    DC_SETTING_CUSTOM  /* read by `set` */
} dc_setting_kind_t;

typedef struct {
    const char *flag;     /* --FLAG, and the setting's name */
    const char *file_key; /* SECTION/KEY in the config file */
    dc_setting_kind_t kind;
    size_t offset, size;  /* the field, for every kind but DC_SETTING_CUSTOM */
    int64_t min, max;     /* DC_SETTING_INT */
    const char *choices;  /* DC_SETTING_CHOICE */
    int (*set)(dc_config_t *c, const char *where, const char *value); /* DC_SETTING_CUSTOM */
    void (*clear)(dc_config_t *c); /* repeatable: a new source replaces the list */
    const char *def;      /* applied by dc_config_defaults; NULL: none */
    const char *arg;      /* the value's name in --help; NULL: a switch */
    const char *help;     /* --help text; '\n' continues on the next line */
    const char *def_help; /* the default as --help says it, when not `def` */
    const char *heading;  /* a --help heading printed before this row */
} dc_setting_t;

extern const dc_setting_t dc_settings[];
extern const size_t dc_settings_count;

/* The index of the setting named flag, or -1. */
int dc_setting_index(const char *flag);

/* Reads value into c's field of setting s; `where` names its source for the
 * message printed when the value is wrong. Returns 0, or -1. */
int dc_setting_apply(dc_config_t *c, const dc_setting_t *s, const char *value, const char *where);

#endif
