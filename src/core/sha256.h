// SHA-256 (FIPS 180-4), for source-image fingerprints and API key hashes,
// and HMAC-SHA256 (RFC 2104) for signing webhook bodies.
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

// HMAC-SHA256 of `msg` under `key` (any length; longer than 64 bytes is
// hashed first, as RFC 2104 says). Pure function, thread-safe.
void ft_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    uint8_t out[32]);
// The same as 64 lowercase hex digits + NUL.
void ft_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        char out[65]);

#endif
