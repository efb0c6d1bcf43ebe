// Test launcher for the browser and HTTP end-to-end tests: starts the
// facetracker server (src/http/server.h) on 127.0.0.1 with the options
// given, prints "PORT <n>" on stdout once it answers, and runs until
// SIGTERM/SIGINT or until its standard input closes (so a dying test
// runner never leaves it behind).
//   e2e_server [--port N] [--db PATH] [--models DIR] [--threads N]
//              [--detector ssd|tiny] [--max-body BYTES] [--cooldown S]
#include "http/server.h"
#include "nn/nn.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int main(int argc, char **argv)
{
    ft_server_opts o = ft_server_opts_default();
    // The browser tests are written in face-api's ResNet space (their
    // thresholds); --descriptor changes it.
    o.descriptor = "resnet128";
    o.port = 0;
    o.bind = "127.0.0.1";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            o.port = (uint16_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--db") == 0)
            o.db_path = argv[i + 1];
        else if (strcmp(argv[i], "--models") == 0)
            o.models_dir = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0)
            o.threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--detector") == 0) {
            if (!ft_detector_parse(argv[i + 1], &o.detector)) {
                fprintf(stderr, "e2e_server: --detector %s: expected yunet, ssd or tiny\n",
                        argv[i + 1]);
                return 1;
            }
        } else if (strcmp(argv[i], "--max-body") == 0)
            o.max_body_bytes = (size_t)atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--descriptor") == 0)
            o.descriptor = argv[i + 1];
        else if (strcmp(argv[i], "--gap") == 0)
            o.door_gap_s = atof(argv[i + 1]);
        else {
            fprintf(stderr, "e2e_server: unknown option %s\n", argv[i]);
            return 1;
        }
    }
    ft_nn_init();
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    ft_server *s = NULL;
    ft_err err;
    ft_err_clear(&err);
    ft_status st = ft_server_start(&o, &s, &err);
    if (st != FT_OK) {
        fprintf(stderr, "e2e_server: %s\n", ft_err_msg(&err, st));
        return 2;
    }
    // The runner drives the page at once: wait for the models first.
    st = ft_server_wait_ready(s, &err);
    if (st != FT_OK) {
        fprintf(stderr, "e2e_server: %s\n", ft_err_msg(&err, st));
        ft_server_stop(s);
        return 2;
    }
    printf("PORT %u\n", (unsigned)ft_server_port(s));
    fflush(stdout);
    while (!stop_flag) {
        struct pollfd p = {0, POLLIN, 0};
        int n = poll(&p, 1, 200);
        if (n > 0) {
            char buf[64];
            if (read(0, buf, sizeof buf) <= 0)
                break; // the runner went away
        }
    }
    ft_server_stop(s);
    return 0;
}
