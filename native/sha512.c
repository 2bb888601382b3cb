/*
 * The job's loop in C: SHA-512 of the data, then iterations-1 more SHA-512s of
 * the previous lowercase hex digest. OpenSSL comes from the Node process
 * itself (its headers ship with Node; its symbols are already loaded), so the
 * addon needs no library of its own. src/job/hash.ts falls back to
 * crypto.hash when this is not built.
 *
 * The linux-x64 and linux-arm64 builds are committed in prebuilds/, so after
 * editing this file run `npm run prebuilds` (see native/README.md).
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/evp.h>
#include <stdlib.h>

static const char HEX[] = "0123456789abcdef";

static void to_hex(const unsigned char *d, char *h) {
  for (int j = 0; j < 64; j++) {
    h[2 * j] = HEX[d[j] >> 4];
    h[2 * j + 1] = HEX[d[j] & 15];
  }
}

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* iterate(data: string, iterations: number): string */
static napi_value iterate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return fail(env, "iterate(data, iterations)");
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) return fail(env, "data must be a string");
  char *data = malloc(len + 1);
  if (!data) return fail(env, "out of memory");
  napi_get_value_string_utf8(env, argv[0], data, len + 1, &len);
  int64_t iterations = 0;
  if (napi_get_value_int64(env, argv[1], &iterations) != napi_ok || iterations < 1) {
    free(data);
    return fail(env, "iterations must be an integer >= 1");
  }
  static EVP_MD *md = NULL;
  if (!md) md = EVP_MD_fetch(NULL, "SHA512", NULL);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!md || !ctx) {
    free(data);
    return fail(env, "OpenSSL SHA-512 unavailable");
  }
  unsigned char d[64];
  char h[128];
  unsigned int dl;
  EVP_DigestInit_ex2(ctx, md, NULL);
  EVP_DigestUpdate(ctx, data, len);
  EVP_DigestFinal_ex(ctx, d, &dl);
  free(data);
  for (int64_t i = 1; i < iterations; i++) {
    to_hex(d, h);
    EVP_DigestInit_ex2(ctx, md, NULL);
    EVP_DigestUpdate(ctx, h, 128);
    EVP_DigestFinal_ex(ctx, d, &dl);
  }
  EVP_MD_CTX_free(ctx);
  to_hex(d, h);
  napi_value out;
  napi_create_string_latin1(env, h, 128, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "iterate", NAPI_AUTO_LENGTH, iterate, NULL, &fn);
  napi_set_named_property(env, exports, "iterate", fn);
  return exports;
}
