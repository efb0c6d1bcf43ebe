// ft_rtsp_server: a tiny RTSP server for the frame-source tests (and the
// door tests and benchmarks), built on gst-rtsp-server, on 127.0.0.1 only.
//
//   ft_rtsp_server [--tls CERT.pem KEY.pem] FILE.mp4 [PORT]
//
// Serves the H.264 track of FILE (an mp4 as tools/make_test_video.sh makes)
// at rtsp://127.0.0.1:PORT/test, in a loop, at the file's own frame rate.
// With --tls the control connection is TLS (rtsps://127.0.0.1:PORT/test,
// the media interleaved in it over TCP), with the given certificate and
// key (PEM); GLib's TLS comes from glib-networking.
// Each session starts at the file's first frame; timestamps keep growing
// across loops (a camera that never ends). PORT 0 or none picks a free
// port. Once listening it prints the port on stdout, one line. SIGTERM and
// SIGINT end it cleanly; SIGKILL is fine too (the tests kill it to show a
// lost stream) and it can be restarted on the same port at once.
//
// How it loops: the file's H.264 access units are read into memory once
// (filesrc ! qtdemux ! h264parse ! appsink), and each session's pipeline
// "( appsrc ! h264parse ! rtph264pay )" is fed from that list over and
// over, shifting each pass's timestamps by the file's duration; the RTP
// sink paces them to the clock.
#include <glib-unix.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct clip {
    GPtrArray *aus; // GstBuffer *, in decode order
    GstCaps *caps;
    GstClockTime duration; // of one pass
} clip;

typedef struct session {
    const clip *c;
    guint64 i; // access units pushed so far
} session;

static gboolean on_signal(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

// Reads every access unit of FILE's H.264 track.
static gboolean clip_load(const char *file, clip *c)
{
    GError *e = NULL;
    gchar *quoted = g_strescape(file, NULL);
    gchar *desc = g_strdup_printf("filesrc location=\"%s\" ! qtdemux ! "
                                  "h264parse config-interval=-1 ! "
                                  "video/x-h264,stream-format=byte-stream,alignment=au ! "
                                  "appsink name=sink sync=false",
                                  quoted);
    GstElement *p = gst_parse_launch(desc, &e);
    g_free(desc);
    g_free(quoted);
    if (!p) {
        fprintf(stderr, "ft_rtsp_server: %s\n", e ? e->message : "cannot build the reader");
        g_clear_error(&e);
        return FALSE;
    }
    GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
    c->aus = g_ptr_array_new_with_free_func((GDestroyNotify)gst_buffer_unref);
    c->caps = NULL;
    c->duration = 0;
    gst_element_set_state(p, GST_STATE_PLAYING);
    GstClockTime end = 0, last_dur = 0;
    GstSample *s;
    while ((s = gst_app_sink_pull_sample(GST_APP_SINK(sink))) != NULL) {
        if (!c->caps)
            c->caps = gst_caps_copy(gst_sample_get_caps(s));
        GstBuffer *b = gst_sample_get_buffer(s);
        GstClockTime pts = GST_BUFFER_PTS(b), dur = GST_BUFFER_DURATION(b);
        if (GST_CLOCK_TIME_IS_VALID(dur))
            last_dur = dur;
        if (GST_CLOCK_TIME_IS_VALID(pts) && pts + last_dur > end)
            end = pts + last_dur;
        g_ptr_array_add(c->aus, gst_buffer_ref(b));
        gst_sample_unref(s);
    }
    // Errors (not an mp4, no H.264) end the stream early: report them.
    GstBus *bus = gst_element_get_bus(p);
    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    if (m) {
        gst_message_parse_error(m, &e, NULL);
        fprintf(stderr, "ft_rtsp_server: %s: %s\n", file, e->message);
        g_clear_error(&e);
        gst_message_unref(m);
    }
    gst_object_unref(bus);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(sink);
    gst_object_unref(p);
    c->duration = end;
    if (c->aus->len == 0 || !c->caps || c->duration == 0) {
        fprintf(stderr, "ft_rtsp_server: %s: no H.264 video read\n", file);
        return FALSE;
    }
    return TRUE;
}

static void need_data(GstElement *appsrc, guint unused, gpointer user)
{
    session *ss = user;
    const clip *c = ss->c;
    guint n = c->aus->len;
    guint64 pass = ss->i / n;
    GstBuffer *src = g_ptr_array_index(c->aus, ss->i % n);
    GstBuffer *b = gst_buffer_copy(src); // shares the memory, own timestamps
    GstClockTime shift = pass * c->duration;
    if (GST_BUFFER_PTS_IS_VALID(b))
        GST_BUFFER_PTS(b) += shift;
    if (GST_BUFFER_DTS_IS_VALID(b))
        GST_BUFFER_DTS(b) += shift;
    ss->i++;
    gst_app_src_push_buffer(GST_APP_SRC(appsrc), b);
}

static void media_configure(GstRTSPMediaFactory *f, GstRTSPMedia *media, gpointer user)
{
    const clip *c = user;
    GstElement *bin = gst_rtsp_media_get_element(media);
    GstElement *appsrc = gst_bin_get_by_name_recurse_up(GST_BIN(bin), "src");
    g_object_set(appsrc, "format", GST_FORMAT_TIME, "caps", c->caps, NULL);
    session *ss = g_new0(session, 1);
    ss->c = c;
    // Freed with the media.
    g_object_set_data_full(G_OBJECT(media), "ft-session", ss, g_free);
    g_signal_connect(appsrc, "need-data", G_CALLBACK(need_data), ss);
    gst_object_unref(appsrc);
    gst_object_unref(bin);
}

int main(int argc, char **argv)
{
    gst_init(&argc, &argv);
    const char *prog = argv[0], *tls_cert = NULL, *tls_key = NULL;
    if (argc >= 4 && strcmp(argv[1], "--tls") == 0) {
        tls_cert = argv[2];
        tls_key = argv[3];
        argv += 3;
        argc -= 3;
    }
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s [--tls CERT.pem KEY.pem] FILE.mp4 [PORT]\n", prog);
        return 2;
    }
    const char *file = argv[1];
    const char *port = argc == 3 ? argv[2] : "0";
    if (!port[0] || strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535) {
        fprintf(stderr, "%s: bad port %s\n", prog, port);
        return 2;
    }
    if (!g_file_test(file, G_FILE_TEST_IS_REGULAR)) {
        fprintf(stderr, "%s: cannot read %s\n", prog, file);
        return 1;
    }
    clip c;
    if (!clip_load(file, &c))
        return 1;

    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    GstRTSPServer *server = gst_rtsp_server_new();
    g_object_set(server, "address", "127.0.0.1", "service", port, NULL);
    GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
    GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
    // config-interval=-1: SPS/PPS with every keyframe, so a client joining
    // (or rejoining) mid-stream starts decoding at the next keyframe.
    gst_rtsp_media_factory_set_launch(factory, "( appsrc name=src ! h264parse config-interval=-1 ! "
                                               "rtph264pay name=pay0 pt=96 config-interval=-1 )");
    g_signal_connect(factory, "media-configure", G_CALLBACK(media_configure), &c);
    if (tls_cert) {
        GError *e = NULL;
        GTlsCertificate *cert = g_tls_certificate_new_from_files(tls_cert, tls_key, &e);
        if (!cert) {
            fprintf(stderr, "%s: %s / %s: %s\n", prog, tls_cert, tls_key,
                    e ? e->message : "cannot load");
            g_clear_error(&e);
            return 1;
        }
        // Anyone may play (no user names): a default token whose role the
        // factory allows to access and construct the media.
        GstRTSPAuth *auth = gst_rtsp_auth_new();
        gst_rtsp_auth_set_tls_certificate(auth, cert);
        GstRTSPToken *token = gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING,
                                                 "viewer", NULL);
        gst_rtsp_auth_set_default_token(auth, token);
        gst_rtsp_token_unref(token);
        gst_rtsp_media_factory_add_role(factory, "viewer", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS,
                                        G_TYPE_BOOLEAN, TRUE,
                                        GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN,
                                        TRUE, NULL);
        gst_rtsp_media_factory_set_protocols(factory, GST_RTSP_LOWER_TRANS_TCP);
        gst_rtsp_server_set_auth(server, auth);
        g_object_unref(auth);
        g_object_unref(cert);
    }
    gst_rtsp_mount_points_add_factory(mounts, "/test", factory);
    g_object_unref(mounts);

    if (gst_rtsp_server_attach(server, NULL) == 0) {
        fprintf(stderr, "%s: cannot listen on 127.0.0.1:%s\n", prog, port);
        return 1;
    }
    printf("%d\n", gst_rtsp_server_get_bound_port(server));
    fflush(stdout);

    g_unix_signal_add(SIGTERM, on_signal, loop);
    g_unix_signal_add(SIGINT, on_signal, loop);
    g_main_loop_run(loop);
    g_object_unref(server);
    g_main_loop_unref(loop);
    g_ptr_array_free(c.aus, TRUE);
    gst_caps_unref(c.caps);
    return 0;
}
