/* main.c: discod's entry point: flags and config, start the server, wait for
 * SIGINT/SIGTERM or a SHUTDOWN request, stop cleanly; SIGHUP re-reads the
 * client keys. */
#include "dc_config.h"
#include "dc_log.h"
#include "dc_server.h"
#include "dc_zap.h"

#include <czmq.h>
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t s_signalled = 0;

static void s_on_signal(int signo)
{
    s_signalled = signo;
}

/* SIGHUP (systemctl reload): the client keys are read again. */
static void s_on_hangup(int signo)
{
    (void)signo;
    dc_zap_reload_soon();
}

int main(int argc, char **argv)
{
    /* czmq must not install its own handlers: we drain before stopping. */
    zsys_handler_set(NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = s_on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    dc_config_t config;
    dc_config_defaults(&config);
    int rc = dc_config_from_args(&config, argc, argv);
    if (rc != 0) {
        dc_config_clear(&config);
        return rc > 0 ? 0 : 2;
    }
    dc_log_set_level(config.log_level);
    if (config.config_file)
        dc_info("configuration read from %s", config.config_file);

    /* Before the first socket: czmq creates its context then. */
    zsys_set_io_threads((size_t)config.io_threads);
    dc_server_t *server = dc_server_new(&config);
    if (!server) {
        dc_error("discod could not start");
        dc_config_clear(&config);
        zsys_shutdown();
        return 1;
    }
    while (!s_signalled && !dc_server_wait_stopped(server, 200))
        ;
    if (s_signalled)
        dc_info("received %s, stopping", s_signalled == SIGINT ? "SIGINT" : "SIGTERM");
    dc_server_destroy(&server);
    dc_config_clear(&config);
    zsys_shutdown();
    return 0;
}
