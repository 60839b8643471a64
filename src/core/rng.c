/* Philox-4x32-10 (Salmon et al., SC'11): a counter-based generator, so the
 * stream for (seed, a, b, c) is reproducible whatever the thread order. */
#include <math.h>

#include "internal.h"

static void philox_round(uint32_t ctr[4], const uint32_t key[2])
{
    const uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0];
    const uint64_t p1 = (uint64_t)0xCD9E8D57u * ctr[2];
    uint32_t c0 = (uint32_t)(p1 >> 32) ^ ctr[1] ^ key[0];
    uint32_t c2 = (uint32_t)(p0 >> 32) ^ ctr[3] ^ key[1];
    ctr[0] = c0;
    ctr[1] = (uint32_t)p1;
    ctr[2] = c2;
    ctr[3] = (uint32_t)p0;
}

static void philox_block(const uint32_t in[4], const uint32_t key_in[2],
                         uint32_t out[4])
{
    uint32_t ctr[4] = { in[0], in[1], in[2], in[3] };
    uint32_t key[2] = { key_in[0], key_in[1] };
    for (int i = 0; i < 10; i++) {
        philox_round(ctr, key);
        key[0] += 0x9E3779B9u;
        key[1] += 0xBB67AE85u;
    }
    for (int i = 0; i < 4; i++)
        out[i] = ctr[i];
}

void byol__rng_init(byol__rng *r, uint64_t seed, uint32_t a, uint32_t b,
                    uint32_t c)
{
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = a;
    r->ctr[2] = b;
    r->ctr[3] = c;
    r->pos = 4;
}

uint32_t byol__rng_u32(byol__rng *r)
{
    if (r->pos == 4) {
        philox_block(r->ctr, r->key, r->buf);
        r->ctr[0]++;
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

double byol__rng_uniform(byol__rng *r)
{
    uint64_t hi = byol__rng_u32(r) >> 5, lo = byol__rng_u32(r) >> 6;
    return (double)(hi * 67108864u + lo) * (1.0 / 9007199254740992.0);
}

void byol__rng_shuffle(byol__rng *r, int64_t *a, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(byol__rng_uniform(r) * (double)(i + 1)), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

double byol__rng_normal(byol__rng *r)
{
    /* Box-Muller; one value per call keeps the stream position simple. */
    double u1 = byol__rng_uniform(r), u2 = byol__rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
