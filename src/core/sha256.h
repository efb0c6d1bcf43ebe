// SHA-256 (FIPS 180-4), for source-image fingerprints and API key hashes.
#ifndef FT_CORE_SHA256_H
#define FT_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct ft_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;
    uint8_t block[64];
    size_t fill;
} ft_sha256;

void ft_sha256_init(ft_sha256 *s);
void ft_sha256_update(ft_sha256 *s, const void *p, size_t n);
void ft_sha256_final(ft_sha256 *s, uint8_t out[32]);
// One call: hex digest (64 chars + NUL) of `n` bytes.
void ft_sha256_hex(const void *p, size_t n, char out[65]);

#endif
