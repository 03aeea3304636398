/* Optional C versions of chaincrawler's hottest chain-layer functions.
 *
 * address_from_script gives exactly what the pure-Python reference
 * (chaincrawler.chain.script._address_from_script_py) gives, for every script: Bech32
 * (BIP173) for witness v0, Bech32m (BIP350) for v1..v16, Base58Check for P2PKH/P2SH,
 * None otherwise. The block and transaction decoders give exactly what the pure-Python
 * code of chaincrawler.chain.types gives, and leave malformed data to it (they return
 * None). Only the CPython C API is used; SHA-256 (FIPS 180-4) is implemented here, for
 * the Base58Check checksum, txids and merkle roots: in portable C, and with the x86 SHA
 * extensions where the processor has them (detected at import).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ SHA-256 */

static const uint32_t SHA256_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static const uint32_t SHA256_IV[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#define SIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))
/* One round, with the working variables renamed instead of moved: `d` and `h` change. */
#define ROUND(a, b, c, d, e, f, g, h, i)                                                    \
    do {                                                                                    \
        uint32_t t1 = (h) + BSIG1(e) + CH(e, f, g) + SHA256_K[i] + w[i];                    \
        (d) += t1;                                                                          \
        (h) = t1 + BSIG0(a) + MAJ(a, b, c);                                                 \
    } while (0)

/* One compression of the 64-byte block at `block` into `state`. */
static void sha256_compress_portable(uint32_t state[8], const uint8_t *block)
{
    uint32_t w[64];
    int i;
    for (i = 0; i < 16; i++) {
        w[i] = load_be32(block + 4 * i);
    }
    for (i = 16; i < 64; i++) {
        w[i] = w[i - 16] + SIG0(w[i - 15]) + w[i - 7] + SIG1(w[i - 2]);
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (i = 0; i < 64; i += 8) {
        ROUND(a, b, c, d, e, f, g, h, i);
        ROUND(h, a, b, c, d, e, f, g, i + 1);
        ROUND(g, h, a, b, c, d, e, f, i + 2);
        ROUND(f, g, h, a, b, c, d, e, i + 3);
        ROUND(e, f, g, h, a, b, c, d, i + 4);
        ROUND(d, e, f, g, h, a, b, c, i + 5);
        ROUND(c, d, e, f, g, h, a, b, i + 6);
        ROUND(b, c, d, e, f, g, h, a, i + 7);
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI_CODE 1

/* `blocks` compressions with the SHA extensions (the instructions' documented use: the
 * state kept as ABEF/CDGH, four rounds per message word group). */
__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_blocks_shani(uint32_t state[8], const uint8_t *data, size_t blocks)
{
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xB1);
    __m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B);
    __m128i abef = _mm_alignr_epi8(tmp, cdgh, 8);
    cdgh = _mm_blend_epi16(cdgh, tmp, 0xF0);
    for (; blocks > 0; blocks--, data += 64) {
        __m128i abef_in = abef, cdgh_in = cdgh, m[4];
        for (int g = 0; g < 16; g++) {
            if (g < 4) {
                m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * g)), swap);
            }
            __m128i wk = _mm_add_epi32(m[g & 3],
                                       _mm_loadu_si128((const __m128i *)&SHA256_K[4 * g]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
            if (g >= 3 && g < 15) {  /* the words of group g + 1 (from g - 3 .. g) */
                __m128i next = _mm_sha256msg1_epu32(m[(g - 3) & 3], m[(g - 2) & 3]);
                next = _mm_add_epi32(next, _mm_alignr_epi8(m[g & 3], m[(g - 1) & 3], 4));
                m[(g + 1) & 3] = _mm_sha256msg2_epu32(next, m[g & 3]);
            }
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }
    tmp = _mm_shuffle_epi32(abef, 0x1B);
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(tmp, cdgh, 0xF0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(cdgh, tmp, 8));
}

static int cpu_has_sha_ni(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9))) {
        return 0;  /* SSE4.1, SSSE3 */
    }
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
}
#endif

static int use_sha_ni = 0;  /* set at import where the processor has the extensions */

static void sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks)
{
#ifdef HAVE_SHA_NI_CODE
    if (use_sha_ni) {
        sha256_blocks_shani(state, data, blocks);
        return;
    }
#endif
    for (; blocks > 0; blocks--, data += 64) {
        sha256_compress_portable(state, data);
    }
}

static void sha256_compress(uint32_t state[8], const uint8_t *block)
{
    sha256_blocks(state, block, 1);
}

/* SHA-256 of a message given in pieces. */
typedef struct {
    uint32_t state[8];
    uint8_t pending[64];
    size_t used;
    uint64_t length;
} sha256_ctx;

static void sha256_init(sha256_ctx *ctx)
{
    memcpy(ctx->state, SHA256_IV, sizeof ctx->state);
    ctx->used = 0;
    ctx->length = 0;
}

static void sha256_update(sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    ctx->length += len;
    if (ctx->used) {
        size_t take = 64 - ctx->used < len ? 64 - ctx->used : len;
        memcpy(ctx->pending + ctx->used, data, take);
        ctx->used += take;
        data += take;
        len -= take;
        if (ctx->used < 64) {
            return;
        }
        sha256_compress(ctx->state, ctx->pending);
        ctx->used = 0;
    }
    if (len >= 64) {
        sha256_blocks(ctx->state, data, len / 64);
        data += len & ~(size_t)63;
        len &= 63;
    }
    memcpy(ctx->pending, data, len);
    ctx->used = len;
}

static void sha256_final(sha256_ctx *ctx, uint8_t out[32])
{
    static const uint8_t padding[64] = {0x80};
    uint8_t length[8];
    uint64_t bits = ctx->length * 8;
    for (int i = 0; i < 8; i++) {
        length[i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    sha256_update(ctx, padding, ctx->used < 56 ? 56 - ctx->used : 120 - ctx->used);
    sha256_update(ctx, length, 8);
    for (int i = 0; i < 8; i++) {
        store_be32(out + 4 * i, ctx->state[i]);
    }
}

/* SHA-256 of a message of at most 55 bytes, which pads to a single block: all that a
 * Base58Check checksum of an address (21, then 32 bytes) needs. */
static void sha256_short(const uint8_t *msg, size_t len, uint8_t out[32])
{
    uint32_t state[8];
    uint8_t block[64] = {0};
    uint64_t bits = (uint64_t)len * 8;
    int i;
    memcpy(block, msg, len);
    block[len] = 0x80;
    for (i = 0; i < 8; i++) {
        block[63 - i] = (uint8_t)(bits >> (8 * i));
    }
    memcpy(state, SHA256_IV, sizeof state);
    sha256_compress(state, block);
    for (i = 0; i < 8; i++) {
        store_be32(out + 4 * i, state[i]);
    }
}

/* SHA-256d of the message ctx holds so far (ctx is used up). */
static void sha256d_final(sha256_ctx *ctx, uint8_t out[32])
{
    uint8_t first[32];
    sha256_final(ctx, first);
    sha256_short(first, 32, out);
}

static void sha256d(const uint8_t *data, size_t len, uint8_t out[32])
{
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, data, len);
    sha256d_final(&ctx, out);
}

PyDoc_STRVAR(sha256d_doc,
"sha256d(data, portable, /)\n--\n\n"
"SHA-256 of the SHA-256 of the bytes ``data``; ``portable``: with the portable code even\n"
"where the SHA extensions are used (to check one against the other).");

static PyObject *py_sha256d(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "sha256d(data: bytes, portable: bool)");
        return NULL;
    }
    int portable = PyObject_IsTrue(args[1]);
    if (portable < 0) {
        return NULL;
    }
    uint8_t out[32];
    int saved = use_sha_ni;
    use_sha_ni = use_sha_ni && !portable;
    sha256d((const uint8_t *)PyBytes_AS_STRING(args[0]), (size_t)PyBytes_GET_SIZE(args[0]), out);
    use_sha_ni = saved;
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

PyDoc_STRVAR(merkle_root_doc,
"merkle_root(hashes, /)\n--\n\n"
"The merkle root of a list of 32-byte hashes (internal order), as Bitcoin computes it;\n"
"None when an item is not 32 bytes of bytes.");

static PyObject *merkle_root(PyObject *module, PyObject *arg)
{
    (void)module;
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "merkle_root(hashes: list[bytes])");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(arg);
    if (n == 0) {
        static const char zero[32] = {0};
        return PyBytes_FromStringAndSize(zero, 32);
    }
    uint8_t *level = PyMem_Malloc((size_t)(n + 1) * 32);
    if (level == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *h = PyList_GET_ITEM(arg, i);
        if (!PyBytes_Check(h) || PyBytes_GET_SIZE(h) != 32) {
            PyMem_Free(level);
            Py_RETURN_NONE;
        }
        memcpy(level + 32 * i, PyBytes_AS_STRING(h), 32);
    }
    while (n > 1) {
        if (n & 1) {
            memcpy(level + 32 * n, level + 32 * (n - 1), 32);
            n++;
        }
        for (Py_ssize_t i = 0; i < n / 2; i++) {
            sha256d(level + 64 * i, 64, level + 32 * i);
        }
        n /= 2;
    }
    PyObject *root = PyBytes_FromStringAndSize((const char *)level, 32);
    PyMem_Free(level);
    return root;
}

/* ------------------------------------------------------------- Base58Check */

static const char B58_ALPHABET[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
#define B58_LIMB 656356768u /* 58**5: each 32-bit limb holds five Base58 digits */

/* Base58Check of a version byte and a 20-byte hash (always 25 bytes with the checksum). */
static PyObject *base58check_21(uint8_t version, const uint8_t *hash20)
{
    uint8_t data[25], digest[32];
    uint32_t limbs[8] = {0}; /* little-endian, base 58**5; 25 bytes need 35 digits */
    char digits[40];
    int nlimbs = 0, zeros = 0, i, j, n = 0, start;

    data[0] = version;
    memcpy(data + 1, hash20, 20);
    sha256_short(data, 21, digest);
    sha256_short(digest, 32, digest);
    memcpy(data + 21, digest, 4);

    while (zeros < 25 && data[zeros] == 0) {
        zeros++;
    }
    /* The number, four bytes at a time (a limb times 2**32 plus a carry fits in 64 bits);
     * the first chunk takes what is left over. */
    for (i = zeros; i < 25;) {
        int take = i == zeros && (25 - zeros) % 4 ? (25 - zeros) % 4 : 4;
        uint64_t carry = 0;
        for (j = 0; j < take; j++) {
            carry = (carry << 8) | data[i++];
        }
        for (j = 0; j < nlimbs; j++) {
            uint64_t t = ((uint64_t)limbs[j] << (8 * take)) + carry;
            limbs[j] = (uint32_t)(t % B58_LIMB);
            carry = t / B58_LIMB;
        }
        while (carry) {
            limbs[nlimbs++] = (uint32_t)(carry % B58_LIMB);
            carry /= B58_LIMB;
        }
    }
    /* Digits most significant first; then drop the top limb's leading zero digits. */
    for (j = nlimbs - 1; j >= 0; j--) {
        uint32_t v = limbs[j];
        for (i = 4; i >= 0; i--) {
            digits[n + i] = B58_ALPHABET[v % 58];
            v /= 58;
        }
        n += 5;
    }
    for (start = 0; start < n && digits[start] == '1'; start++) {
    }
    PyObject *text = PyUnicode_New(zeros + n - start, 127);
    if (text == NULL) {
        return NULL;
    }
    char *out = (char *)PyUnicode_1BYTE_DATA(text);
    memset(out, '1', (size_t)zeros);
    memcpy(out + zeros, digits + start, (size_t)(n - start));
    return text;
}

/* ------------------------------------------------------------------ Bech32 */

static const char BECH32_CHARSET[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
#define BECH32M_CONST 0x2bc830a3u

/* What the checksum's top five bits feed back, for each of their 32 values: the XOR of
 * the BCH generators their set bits select. */
static const uint32_t BECH32_FEEDBACK[32] = {
    0x00000000, 0x3b6a57b2, 0x26508e6d, 0x1d3ad9df, 0x1ea119fa, 0x25cb4e48, 0x38f19797,
    0x039bc025, 0x3d4233dd, 0x0628646f, 0x1b12bdb0, 0x2078ea02, 0x23e32a27, 0x18897d95,
    0x05b3a44a, 0x3ed9f3f8, 0x2a1462b3, 0x117e3501, 0x0c44ecde, 0x372ebb6c, 0x34b57b49,
    0x0fdf2cfb, 0x12e5f524, 0x298fa296, 0x1756516e, 0x2c3c06dc, 0x3106df03, 0x0a6c88b1,
    0x09f74894, 0x329d1f26, 0x2fa7c6f9, 0x14cd914b,
};

static uint32_t bech32_step(uint32_t chk, uint32_t value)
{
    return ((chk & 0x1ffffffu) << 5) ^ value ^ BECH32_FEEDBACK[chk >> 25];
}

/* The segwit address of `program` (2..40 bytes) under `hrp`, which is used as given:
 * the checksum runs over its code points, as the reference does, and a non-ASCII hrp is
 * kept as it is in the result. */
static PyObject *segwit_address(PyObject *hrp, int version, const uint8_t *program, Py_ssize_t size)
{
    char tail[2 + 64 + 6]; /* "1", version, at most 64 data characters, checksum */
    uint32_t chk = 1, acc = 0;
    int bits = 0, n = 0, i;
    Py_ssize_t hrp_len, k;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(hrp) < 0) {
        return NULL;
    }
#endif
    hrp_len = PyUnicode_GET_LENGTH(hrp);
    int kind = PyUnicode_KIND(hrp);
    const void *hrp_data = PyUnicode_DATA(hrp);

    for (k = 0; k < hrp_len; k++) {
        chk = bech32_step(chk, PyUnicode_READ(kind, hrp_data, k) >> 5);
    }
    chk = bech32_step(chk, 0);
    for (k = 0; k < hrp_len; k++) {
        chk = bech32_step(chk, PyUnicode_READ(kind, hrp_data, k) & 31);
    }
    tail[n++] = '1';
    tail[n++] = BECH32_CHARSET[version];
    chk = bech32_step(chk, (uint32_t)version);
    for (k = 0; k < size; k++) {
        acc = (acc << 8) | program[k];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            uint32_t v = (acc >> bits) & 31;
            chk = bech32_step(chk, v);
            tail[n++] = BECH32_CHARSET[v];
        }
    }
    if (bits) {
        uint32_t v = (acc << (5 - bits)) & 31;
        chk = bech32_step(chk, v);
        tail[n++] = BECH32_CHARSET[v];
    }
    for (i = 0; i < 6; i++) {
        chk = bech32_step(chk, 0);
    }
    chk ^= version == 0 ? 1u : BECH32M_CONST;
    for (i = 0; i < 6; i++) {
        tail[n++] = BECH32_CHARSET[(chk >> (5 * (5 - i))) & 31];
    }

    if (!PyUnicode_IS_ASCII(hrp)) {
        PyObject *rest = PyUnicode_FromStringAndSize(tail, n);
        if (rest == NULL) {
            return NULL;
        }
        PyObject *text = PyUnicode_Concat(hrp, rest);
        Py_DECREF(rest);
        return text;
    }
    PyObject *text = PyUnicode_New(hrp_len + n, 127);
    if (text == NULL) {
        return NULL;
    }
    char *out = (char *)PyUnicode_1BYTE_DATA(text);
    memcpy(out, PyUnicode_1BYTE_DATA(hrp), (size_t)hrp_len);
    memcpy(out + hrp_len, tail, (size_t)n);
    return text;
}

/* ------------------------------------------------------------- the module */

/* A Base58 version byte from a Python int, with the error bytes((prefix,)) raises. */
static int version_byte(PyObject *prefix, uint8_t *out)
{
    long value = PyLong_AsLong(prefix);
    if (value == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_SetString(PyExc_ValueError, "bytes must be in range(0, 256)");
        }
        return -1;
    }
    if (value < 0 || value > 255) {
        PyErr_SetString(PyExc_ValueError, "bytes must be in range(0, 256)");
        return -1;
    }
    *out = (uint8_t)value;
    return 0;
}

static PyObject *derive(const uint8_t *s, Py_ssize_t n, PyObject *hrp, PyObject *p2pkh,
                        PyObject *p2sh)
{
    uint8_t version;
    if (n == 22 && s[0] == 0x00 && s[1] == 20) {
        return segwit_address(hrp, 0, s + 2, 20);
    }
    if (n == 34 && s[0] == 0x00 && s[1] == 32) {
        return segwit_address(hrp, 0, s + 2, 32);
    }
    if (n == 25 && s[0] == 0x76 && s[1] == 0xa9 && s[2] == 20 && s[23] == 0x88 &&
        s[24] == 0xac) {
        return version_byte(p2pkh, &version) ? NULL : base58check_21(version, s + 3);
    }
    if (n == 23 && s[0] == 0xa9 && s[1] == 20 && s[22] == 0x87) {
        return version_byte(p2sh, &version) ? NULL : base58check_21(version, s + 2);
    }
    if (n >= 4 && n <= 42 && s[1] + 2 == n && s[0] >= 0x51 && s[0] <= 0x60) {
        return segwit_address(hrp, s[0] - 0x50, s + 2, n - 2);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(address_from_script_doc,
"address_from_script(script, hrp, p2pkh_prefix, p2sh_prefix, /)\n--\n\n"
"The address of an output script on the network with these encodings, or None;\n"
"exactly what chaincrawler.chain.script's pure-Python derivation gives.");

static PyObject *address_from_script(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "address_from_script expected 4 arguments, got %zd",
                     nargs);
        return NULL;
    }
    PyObject *script = args[0], *hrp = args[1];
    if (!PyUnicode_Check(hrp)) {
        PyErr_Format(PyExc_TypeError, "hrp must be str, not %.100s", Py_TYPE(hrp)->tp_name);
        return NULL;
    }
    if (PyBytes_Check(script)) {
        return derive((const uint8_t *)PyBytes_AS_STRING(script), PyBytes_GET_SIZE(script), hrp,
                      args[2], args[3]);
    }
    Py_buffer view;
    if (PyObject_GetBuffer(script, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *result = derive(view.buf, view.len, hrp, args[2], args[3]);
    PyBuffer_Release(&view);
    return result;
}


/* ---- transaction layout and decoding (chaincrawler.chain.types) ---------------------- */

/* Each returns None where the data is malformed, for the pure-Python code to raise its
 * precise error: so only well-formed data takes these paths. */

static PyObject *S_buf, *S_start, *S_end, *S_io_start, *S_out_start, *S_io_end,
    *S_wit_start, *S_network, *S_inputs, *S_outputs, *S_txid, *S_wtxid, *S_value,
    *S_script_pubkey, *S_script_type, *S_address, *S_txid_bytes, *S_vout, *S_prevout,
    *S_script_sig, *S_sequence, *S_witness, *S_prev_txout;

static int intern_names(void)
{
    if (S_buf != NULL) {
        return 0;
    }
#define NAME(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return -1
    NAME(S_buf, "_buf"); NAME(S_start, "_start"); NAME(S_end, "_end");
    NAME(S_io_start, "_io_start"); NAME(S_out_start, "_out_start"); NAME(S_io_end, "_io_end");
    NAME(S_wit_start, "_wit_start"); NAME(S_network, "network"); NAME(S_inputs, "_inputs");
    NAME(S_outputs, "_outputs"); NAME(S_txid, "_txid"); NAME(S_wtxid, "_wtxid");
    NAME(S_value, "value"); NAME(S_script_pubkey, "script_pubkey");
    NAME(S_script_type, "_script_type"); NAME(S_address, "_address");
    NAME(S_txid_bytes, "txid_bytes"); NAME(S_vout, "vout"); NAME(S_prevout, "prevout");
    NAME(S_script_sig, "script_sig"); NAME(S_sequence, "sequence"); NAME(S_witness, "witness");
    NAME(S_prev_txout, "prev_txout");
#undef NAME
    return 0;
}

/* A CompactSize at *pos; -1 when truncated or larger than the data left (as _big_count). */
static int read_count(const uint8_t *b, Py_ssize_t len, Py_ssize_t *pos, Py_ssize_t *out)
{
    if (*pos >= len) {
        return -1;
    }
    uint8_t tag = b[*pos];
    if (tag < 0xfd) {
        *out = tag;
        *pos += 1;
        return 0;
    }
    Py_ssize_t width = tag == 0xfd ? 2 : tag == 0xfe ? 4 : 8;
    if (*pos + 1 + width > len) {
        return -1;
    }
    uint64_t n = 0;
    for (Py_ssize_t i = 0; i < width; i++) {
        n |= (uint64_t)b[*pos + 1 + i] << (8 * i);
    }
    *pos += 1 + width;
    if (n > (uint64_t)(len - *pos)) {
        return -1;
    }
    *out = (Py_ssize_t)n;
    return 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The layout of the transaction at start, as types._scan_tx; -1 where it raises. */
static int scan_tx(const uint8_t *b, Py_ssize_t len, Py_ssize_t start, Py_ssize_t out[5])
{
    Py_ssize_t pos = start + 4, n, size;
    if (pos >= len) {
        return -1;
    }
    int segwit = b[pos] == 0;
    if (segwit) {
        if (pos + 1 >= len || b[pos + 1] != 1) {
            return -1;
        }
        pos += 2;
    }
    Py_ssize_t io_start = pos;
    if (read_count(b, len, &pos, &n) < 0 || n == 0) {
        return -1;
    }
    Py_ssize_t inputs = n;
    for (Py_ssize_t i = 0; i < inputs; i++) {
        pos += 36;
        if (read_count(b, len, &pos, &size) < 0) {
            return -1;
        }
        pos += size + 4;
    }
    Py_ssize_t out_start = pos;
    if (read_count(b, len, &pos, &n) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        pos += 8;
        if (read_count(b, len, &pos, &size) < 0) {
            return -1;
        }
        pos += size;
    }
    Py_ssize_t io_end = pos, wit_start = -1;
    if (segwit) {
        wit_start = pos;
        for (Py_ssize_t i = 0; i < inputs; i++) {
            Py_ssize_t items;
            if (read_count(b, len, &pos, &items) < 0) {
                return -1;
            }
            for (Py_ssize_t j = 0; j < items; j++) {
                if (read_count(b, len, &pos, &size) < 0) {
                    return -1;
                }
                pos += size;
            }
        }
    }
    if (pos + 4 > len) {
        return -1;
    }
    out[0] = pos + 4;
    out[1] = io_start;
    out[2] = out_start;
    out[3] = io_end;
    out[4] = wit_start;
    return 0;
}

static int set_ssize(PyObject *obj, PyObject *name, Py_ssize_t value)
{
    PyObject *v = PyLong_FromSsize_t(value);
    if (v == NULL) {
        return -1;
    }
    int rc = PyObject_SetAttr(obj, name, v);
    Py_DECREF(v);
    return rc;
}

/* Set name to a new reference, which is released: -1 (with it released) on failure. */
static int set_new(PyObject *obj, PyObject *name, PyObject *value)
{
    if (value == NULL) {
        return -1;
    }
    int rc = PyObject_SetAttr(obj, name, value);
    Py_DECREF(value);
    return rc;
}

/* An instance of a chain record class (Transaction, TxIn, OutPoint, TxOut), its slots
 * empty, and not tracked by the cyclic garbage collector: these records refer only to
 * bytes, numbers, lists of records and the network, never back to a record, so no cycle
 * runs through them, and the collector's passes while a block is decoded need not scan
 * hundreds of thousands of them. (Reference counting frees them as always.) */
static PyObject *new_instance(PyObject *cls)
{
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj != NULL && PyObject_GC_IsTracked(obj)) {
        PyObject_GC_UnTrack(obj);
    }
    return obj;
}

/* The txid (internal order) of the transaction at `start` laid out as `at`: the hash of
 * its serialisation without the witness (marker, flag and witnesses left out). */
static PyObject *txid_of(const uint8_t *b, Py_ssize_t start, const Py_ssize_t at[5])
{
    uint8_t out[32];
    Py_ssize_t end = at[0], io_start = at[1], io_end = at[3], wit_start = at[4];
    if (wit_start < 0) {
        sha256d(b + start, (size_t)(end - start), out);
    } else {
        sha256_ctx ctx;
        sha256_init(&ctx);
        sha256_update(&ctx, b + start, 4);
        sha256_update(&ctx, b + io_start, (size_t)(io_end - io_start));
        sha256_update(&ctx, b + end - 4, 4);
        sha256d_final(&ctx, out);
    }
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

PyDoc_STRVAR(parse_transactions_doc,
"parse_transactions(data, pos, count, network, cls, /)\n--\n\n"
"``count`` transactions of class ``cls`` located (not decoded; their txids computed) in\n"
"the bytes ``data`` from ``pos``, and the position after them; None where the data is\n"
"malformed.");

static PyObject *parse_transactions(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5 || !PyBytes_Check(args[0]) || !PyType_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "parse_transactions(data: bytes, pos, count, network, cls)");
        return NULL;
    }
    if (intern_names() < 0) {
        return NULL;
    }
    PyObject *data = args[0], *network = args[3], *cls = args[4];
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]), count = PyLong_AsSsize_t(args[2]);
    if ((pos == -1 || count == -1) && PyErr_Occurred()) {
        return NULL;
    }
    const uint8_t *b = (const uint8_t *)PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    if (pos < 0 || count < 0 || count > len) {
        Py_RETURN_NONE;
    }
    PyObject *txs = PyList_New(count);
    if (txs == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t at[5];
        if (scan_tx(b, len, pos, at) < 0) {
            Py_DECREF(txs);
            Py_RETURN_NONE;
        }
        PyObject *tx = new_instance(cls);
        if (tx == NULL) {
            Py_DECREF(txs);
            return NULL;
        }
        PyList_SET_ITEM(txs, i, tx);
        if (PyObject_SetAttr(tx, S_buf, data) < 0 || set_ssize(tx, S_start, pos) < 0 ||
            set_ssize(tx, S_end, at[0]) < 0 || set_ssize(tx, S_io_start, at[1]) < 0 ||
            set_ssize(tx, S_out_start, at[2]) < 0 || set_ssize(tx, S_io_end, at[3]) < 0 ||
            set_ssize(tx, S_wit_start, at[4]) < 0 ||
            PyObject_SetAttr(tx, S_network, network) < 0 ||
            PyObject_SetAttr(tx, S_inputs, Py_None) < 0 ||
            PyObject_SetAttr(tx, S_outputs, Py_None) < 0 ||
            set_new(tx, S_txid, txid_of(b, pos, at)) < 0 ||
            PyObject_SetAttr(tx, S_wtxid, Py_None) < 0) {
            Py_DECREF(txs);
            return NULL;
        }
        pos = at[0];
    }
    return Py_BuildValue("(Nn)", txs, pos);
}

PyDoc_STRVAR(decode_outputs_doc,
"decode_outputs(buf, pos, network, cls, unset, /)\n--\n\n"
"The outputs (of class ``cls``) listed at ``pos`` of the bytes ``buf``, their address\n"
"and script type not derived yet; None where the data is malformed.");

static PyObject *decode_outputs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5 || !PyBytes_Check(args[0]) || !PyType_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "decode_outputs(buf: bytes, pos, network, cls, unset)");
        return NULL;
    }
    if (intern_names() < 0) {
        return NULL;
    }
    const uint8_t *b = (const uint8_t *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t len = PyBytes_GET_SIZE(args[0]), pos = PyLong_AsSsize_t(args[1]), n, size;
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (pos < 0 || read_count(b, len, &pos, &n) < 0) {
        Py_RETURN_NONE;
    }
    PyObject *outs = PyList_New(n);
    if (outs == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (pos + 8 > len) {
            Py_DECREF(outs);
            Py_RETURN_NONE;
        }
        uint64_t value = (uint64_t)le32(b + pos) | (uint64_t)le32(b + pos + 4) << 32;
        pos += 8;
        if (read_count(b, len, &pos, &size) < 0) {
            Py_DECREF(outs);
            Py_RETURN_NONE;
        }
        PyObject *out = new_instance(args[3]);
        if (out == NULL) {
            Py_DECREF(outs);
            return NULL;
        }
        PyList_SET_ITEM(outs, i, out);
        if (set_new(out, S_value, PyLong_FromUnsignedLongLong(value)) < 0 ||
            set_new(out, S_script_pubkey,
                    PyBytes_FromStringAndSize((const char *)b + pos, size)) < 0 ||
            PyObject_SetAttr(out, S_network, args[2]) < 0 ||
            PyObject_SetAttr(out, S_script_type, Py_None) < 0 ||
            PyObject_SetAttr(out, S_address, args[4]) < 0) {
            Py_DECREF(outs);
            return NULL;
        }
        pos += size;
    }
    return outs;
}

PyDoc_STRVAR(decode_inputs_doc,
"decode_inputs(buf, pos, witness_pos, cls, outpoint_cls, /)\n--\n\n"
"The inputs (of class ``cls``) listed at ``pos`` of the bytes ``buf``, with their\n"
"witnesses from ``witness_pos`` (-1: none); None where the data is malformed.");

static PyObject *decode_inputs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5 || !PyBytes_Check(args[0]) || !PyType_Check(args[3]) ||
        !PyType_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "decode_inputs(buf: bytes, pos, witness_pos, cls, outpoint_cls)");
        return NULL;
    }
    if (intern_names() < 0) {
        return NULL;
    }
    const uint8_t *b = (const uint8_t *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t len = PyBytes_GET_SIZE(args[0]), pos = PyLong_AsSsize_t(args[1]);
    Py_ssize_t wit = PyLong_AsSsize_t(args[2]), n, size;
    if ((pos == -1 || wit == -1) && PyErr_Occurred()) {
        return NULL;
    }
    if (pos < 0 || read_count(b, len, &pos, &n) < 0) {
        Py_RETURN_NONE;
    }
    PyObject *ins = PyList_New(n);
    if (ins == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (pos + 36 > len) {
            goto malformed;
        }
        const uint8_t *point = b + pos;
        pos += 36;
        if (read_count(b, len, &pos, &size) < 0 || pos + size + 4 > len) {
            goto malformed;
        }
        PyObject *txin = new_instance(args[3]);
        if (txin == NULL) {
            goto error;
        }
        PyList_SET_ITEM(ins, i, txin);
        PyObject *prevout = new_instance(args[4]);
        if (prevout == NULL) {
            goto error;
        }
        if (set_new(prevout, S_txid_bytes, PyBytes_FromStringAndSize((const char *)point, 32))
                < 0 ||
            set_new(prevout, S_vout, PyLong_FromUnsignedLong(le32(point + 32))) < 0 ||
            PyObject_SetAttr(txin, S_prevout, prevout) < 0) {
            Py_DECREF(prevout);
            goto error;
        }
        Py_DECREF(prevout);
        if (set_new(txin, S_script_sig, PyBytes_FromStringAndSize((const char *)b + pos, size))
                < 0 ||
            set_new(txin, S_sequence, PyLong_FromUnsignedLong(le32(b + pos + size))) < 0 ||
            set_new(txin, S_witness, PyList_New(0)) < 0 ||
            PyObject_SetAttr(txin, S_prev_txout, Py_None) < 0) {
            goto error;
        }
        pos += size + 4;
    }
    if (wit >= 0) {
        pos = wit;
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t items;
            if (read_count(b, len, &pos, &items) < 0) {
                goto malformed;
            }
            PyObject *witness = PyList_New(items);
            if (witness == NULL) {
                goto error;
            }
            for (Py_ssize_t j = 0; j < items; j++) {
                PyObject *item = NULL;
                if (read_count(b, len, &pos, &size) < 0 ||
                    (item = PyBytes_FromStringAndSize((const char *)b + pos, size)) == NULL) {
                    Py_DECREF(witness);
                    if (PyErr_Occurred()) {
                        goto error;
                    }
                    goto malformed;
                }
                PyList_SET_ITEM(witness, j, item);
                pos += size;
            }
            if (set_new(PyList_GET_ITEM(ins, i), S_witness, witness) < 0) {
                goto error;
            }
        }
    }
    return ins;
malformed:
    Py_DECREF(ins);
    Py_RETURN_NONE;
error:
    Py_DECREF(ins);
    return NULL;
}

static PyMethodDef speedups_methods[] = {
    {"address_from_script", (PyCFunction)(void (*)(void))address_from_script, METH_FASTCALL,
     address_from_script_doc},
    {"parse_transactions", (PyCFunction)(void (*)(void))parse_transactions, METH_FASTCALL,
     parse_transactions_doc},
    {"decode_outputs", (PyCFunction)(void (*)(void))decode_outputs, METH_FASTCALL,
     decode_outputs_doc},
    {"decode_inputs", (PyCFunction)(void (*)(void))decode_inputs, METH_FASTCALL,
     decode_inputs_doc},
    {"sha256d", (PyCFunction)(void (*)(void))py_sha256d, METH_FASTCALL, sha256d_doc},
    {"merkle_root", merkle_root, METH_O, merkle_root_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "chaincrawler.chain._speedups",
    "C versions of chaincrawler's hottest chain-layer functions (optional).",
    0,
    speedups_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
#ifdef HAVE_SHA_NI_CODE
    use_sha_ni = cpu_has_sha_ni();
#endif
    return PyModuleDef_Init(&speedups_module);
}
