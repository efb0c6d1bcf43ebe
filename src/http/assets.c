// The page's files, embedded into the binary by tools/embed_web.cmake
// (generated web_assets.c), looked up by name, with their media types.
#include "http/http_internal.h"

#include <string.h>

// Matches the typedef in the generated file.
typedef struct ft_web_asset {
    const char *name;
    const uint8_t *data;
    size_t len;
} ft_web_asset;
extern const ft_web_asset ft_web_assets[];

const uint8_t *ft_http__asset(const char *name, size_t *len)
{
    for (const ft_web_asset *a = ft_web_assets; a->name; a++)
        if (strcmp(a->name, name) == 0) {
            *len = a->len;
            return a->data;
        }
    return NULL;
}

const char *ft_http__mime(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".json", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".ico", "image/x-icon"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}
