/*
 * The Node-API face of the job's loop (NAPI_VERSION 8). OpenSSL comes from
 * the Node process itself (its headers ship with Node; its symbols are already
 * loaded), so the addon needs no library of its own. src/job/hash.ts falls back
 * to JavaScript when this is not built.
 *
 * The linux-x64 and linux-arm64 builds are committed in prebuilds/, so after
 * editing anything here run `npm run prebuilds` (see native/README.md).
 */
#define NAPI_VERSION 8
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include "chains.h"

static const char HEX[] = "0123456789abcdef";

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* iterate(data: string, iterations: number): string — one chain, the single-stream loop. */
static napi_value iterate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return fail(env, "iterate(data, iterations)");
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) return fail(env, "data must be a string");
  int64_t iterations = 0;
  if (napi_get_value_int64(env, argv[1], &iterations) != napi_ok || iterations < 1) return fail(env, "iterations must be an integer >= 1");
  char *data = malloc(len + 1);
  if (!data) return fail(env, "out of memory");
  napi_get_value_string_utf8(env, argv[0], data, len + 1, &len);
  unsigned char d[64];
  SHA512((const unsigned char *)data, len, d);
  free(data);
  dw_scalar_steps(d, (uint64_t)iterations - 1);
  char h[128];
  for (int j = 0; j < 64; j++) {
    h[2 * j] = HEX[d[j] >> 4];
    h[2 * j + 1] = HEX[d[j] & 15];
  }
  napi_value out;
  napi_create_string_latin1(env, h, 128, &out);
  return out;
}

static int path_named(napi_env env, napi_value v, dw_path *out) {
  char name[16];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, name, sizeof name, &len) != napi_ok) return 0;
  for (int p = 0; p < DW_PATHS; p++)
    if (strcmp(name, dw_path_name((dw_path)p)) == 0) {
      *out = (dw_path)p;
      return 1;
    }
  return 0;
}

/* paths(): { supported: string[] (this CPU's, best first), preferred: string } */
static napi_value paths(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, list, s;
  napi_create_object(env, &out);
  napi_create_array(env, &list);
  uint32_t n = 0;
  for (int p = DW_PATHS - 1; p >= 0; p--) {
    if (!dw_path_supported((dw_path)p)) continue;
    napi_create_string_utf8(env, dw_path_name((dw_path)p), NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, list, n++, s);
  }
  napi_set_named_property(env, out, "supported", list);
  napi_create_string_utf8(env, dw_path_name(dw_path_preferred()), NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, out, "preferred", s);
  return out;
}

/*
 * run(path: string, digests: Uint8Array (64 × n), remaining: Float64Array (n), budgetMs: number): number
 * Advances the chains in place (chains.h dw_run); returns the steps done.
 */
static napi_value run(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return fail(env, "run(path, digests, remaining, budgetMs)");
  dw_path p;
  if (!path_named(env, argv[0], &p)) return fail(env, "unknown hash path");
  /* A forced path this CPU lacks would die of SIGILL: refuse it. */
  if (!dw_path_supported(p)) return fail(env, "this CPU does not support that hash path");
  napi_typedarray_type t1, t2;
  size_t n1, n2;
  void *d1, *d2;
  bool is1 = false, is2 = false;
  napi_is_typedarray(env, argv[1], &is1);
  napi_is_typedarray(env, argv[2], &is2);
  if (!is1 || !is2) return fail(env, "digests must be a Uint8Array and remaining a Float64Array");
  napi_get_typedarray_info(env, argv[1], &t1, &n1, &d1, NULL, NULL);
  napi_get_typedarray_info(env, argv[2], &t2, &n2, &d2, NULL, NULL);
  if (t1 != napi_uint8_array || t2 != napi_float64_array || n1 != 64 * n2) return fail(env, "digests must be a Uint8Array of 64 bytes per entry of the Float64Array remaining");
  double budget_ms = 0;
  if (napi_get_value_double(env, argv[3], &budget_ms) != napi_ok || !(budget_ms >= 0)) return fail(env, "budgetMs must be a number >= 0");
  double *rem = d2;
  uint64_t *left = malloc((n2 ? n2 : 1) * sizeof *left);
  if (!left) return fail(env, "out of memory");
  for (size_t i = 0; i < n2; i++) {
    if (!(rem[i] >= 0 && rem[i] <= 9007199254740991.0) || rem[i] != (double)(uint64_t)rem[i]) {
      free(left);
      return fail(env, "remaining must hold integers >= 0");
    }
    left[i] = (uint64_t)rem[i];
  }
  uint64_t done = dw_run(p, d1, left, n2, (uint64_t)(budget_ms * 1e6));
  for (size_t i = 0; i < n2; i++) rem[i] = (double)left[i];
  free(left);
  napi_value out;
  napi_create_double(env, (double)done, &out);
  return out;
}

NAPI_MODULE_INIT() {
  dw_init();
  napi_property_descriptor props[] = {
      {"iterate", NULL, iterate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"paths", NULL, paths, NULL, NULL, NULL, napi_enumerable, NULL},
      {"run", NULL, run, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
