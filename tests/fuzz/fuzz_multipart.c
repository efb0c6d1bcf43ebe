// libFuzzer target for the multipart/form-data parser (src/http/multipart.c).
// Input layout: the first line (up to '\n') is the Content-Type value, the
// rest is the body; the last byte, when the input is long enough, picks
// tight limits (few parts, small headers) so the limit paths get covered.
#include "http/multipart.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 256 ? size : 256);
    if (!nl)
        return 0;
    size_t ctlen = (size_t)(nl - data);
    char ct[257];
    memcpy(ct, data, ctlen);
    ct[ctlen] = 0;
    const uint8_t *body = nl + 1;
    size_t blen = size - ctlen - 1;

    ft_multipart_limits lim = ft_multipart_limits_default();
    if (size > 0 && (data[size - 1] & 0x80)) {
        lim.max_parts = 1 + (data[size - 1] & 3);
        lim.max_header_bytes = 16 + (data[size - 1] & 0x3c);
    }
    // Copy the body so ASan sees reads past its end.
    uint8_t *copy = malloc(blen ? blen : 1);
    if (!copy)
        return 0;
    memcpy(copy, body, blen);
    ft_multipart m;
    if (ft_multipart_parse(copy, blen, ct, &lim, &m, NULL) == FT_OK) {
        for (size_t i = 0; i < m.n_parts; i++) {
            const ft_multipart_part *p = &m.parts[i];
            volatile size_t sink = strlen(p->name);
            if (p->filename)
                sink += strlen(p->filename);
            if (p->content_type)
                sink += strlen(p->content_type);
            if (p->len)
                sink += p->data[0] + p->data[p->len - 1];
            if (p->data < copy || p->data + p->len > copy + blen)
                abort();
            (void)sink;
        }
        (void)ft_multipart_find(&m, "fileImg");
        ft_multipart_deinit(&m);
    }
    free(copy);
    return 0;
}
