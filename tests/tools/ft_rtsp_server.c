// ft_rtsp_server: a tiny RTSP server for the frame-source tests (and the
// door tests and benchmarks), built on gst-rtsp-server, on 127.0.0.1 only.
//
//   ft_rtsp_server FILE.mp4 [PORT]
//
// Serves the H.264 track of FILE (an mp4 as tools/make_test_video.sh
// makes) at rtsp://127.0.0.1:PORT/test, at the file's own frame rate, from
// its start for each new session (the file is not looped: make it as long
// as the test needs). PORT 0 or none picks a free port. Once listening it
// prints the port on stdout, one line. SIGTERM/SIGINT end it cleanly;
// SIGKILL is fine too (the tests kill it to show a lost stream) and it can
// be restarted on the same port at once (the socket is bound with
// SO_REUSEADDR).
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <glib-unix.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gboolean on_signal(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    gst_init(&argc, &argv);
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s FILE.mp4 [PORT]\n", argv[0]);
        return 2;
    }
    const char *file = argv[1];
    const char *port = argc == 3 ? argv[2] : "0";
    if (strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535) {
        fprintf(stderr, "%s: bad port %s\n", argv[0], port);
        return 2;
    }
    if (!g_file_test(file, G_FILE_TEST_IS_REGULAR)) {
        fprintf(stderr, "%s: cannot read %s\n", argv[0], file);
        return 1;
    }

    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    GstRTSPServer *server = gst_rtsp_server_new();
    g_object_set(server, "address", "127.0.0.1", "service", port, NULL);
    GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
    GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
    // config-interval=-1: SPS/PPS with every keyframe, so a client joining
    // (or rejoining) mid-stream starts decoding at the next keyframe.
    gchar *quoted = g_strescape(file, NULL);
    gchar *launch = g_strdup_printf("( filesrc location=\"%s\" ! qtdemux ! h264parse "
                                    "config-interval=-1 ! rtph264pay name=pay0 pt=96 "
                                    "config-interval=-1 )",
                                    quoted);
    gst_rtsp_media_factory_set_launch(factory, launch);
    g_free(launch);
    g_free(quoted);
    gst_rtsp_mount_points_add_factory(mounts, "/test", factory);
    g_object_unref(mounts);

    if (gst_rtsp_server_attach(server, NULL) == 0) {
        fprintf(stderr, "%s: cannot listen on 127.0.0.1:%s\n", argv[0], port);
        return 1;
    }
    printf("%d\n", gst_rtsp_server_get_bound_port(server));
    fflush(stdout);

    g_unix_signal_add(SIGTERM, on_signal, loop);
    g_unix_signal_add(SIGINT, on_signal, loop);
    g_main_loop_run(loop);
    g_object_unref(server);
    g_main_loop_unref(loop);
    return 0;
}
