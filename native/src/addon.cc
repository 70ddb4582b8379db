// N-API glue: each kernel takes (heap: ArrayBuffer, byte offsets of its tensors, Int32Array params)
// and works in place on that memory (the wasm backend's heap), so no tensor is copied.
#include <node_api.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "cached_op.h"
#include "context.h"
#include "conv.h"
#include "binary.h"
#include "elementwise.h"
#include "group_norm.h"
#include "matmul.h"
#include "reduce.h"

using namespace onednn_tfjs;

namespace {

struct JsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check(napi_env env, napi_status s, const char* what) {
  if (s != napi_ok) throw JsError(std::string("onednn addon: bad argument: ") + what);
}

struct Args {
  napi_value v[16];
  size_t n = 16;
};

Args getArgs(napi_env env, napi_callback_info info, size_t need) {
  Args a;
  check(env, napi_get_cb_info(env, info, &a.n, a.v, nullptr, nullptr), "callback info");
  if (a.n < need) throw JsError("onednn addon: expected " + std::to_string(need) + " arguments, got " + std::to_string(a.n));
  return a;
}

int64_t getInt(napi_env env, napi_value v, const char* what) {
  int64_t x;
  check(env, napi_get_value_int64(env, v, &x), what);
  return x;
}

struct Heap {
  uint8_t* base;
  size_t length;
  // Pointer to `count` floats at byte offset `off`, bounds-checked against the heap.
  float* floats(int64_t off, int64_t count, const char* what) const {
    if (off < 0 || count < 0 || (off & 3) != 0 || size_t(off) + size_t(count) * 4 > length)
      throw JsError(std::string("onednn addon: ") + what + " lies outside the heap (offset " + std::to_string(off) +
                    ", " + std::to_string(count) + " floats, heap " + std::to_string(length) + " bytes)");
    return reinterpret_cast<float*>(base + off);
  }
};

Heap getHeap(napi_env env, napi_value v) {
  Heap h;
  void* data = nullptr;
  bool isAb = false;
  check(env, napi_is_arraybuffer(env, v, &isAb), "heap");
  if (!isAb) throw JsError("onednn addon: heap must be an ArrayBuffer (the wasm memory buffer)");
  check(env, napi_get_arraybuffer_info(env, v, &data, &h.length), "heap");
  h.base = static_cast<uint8_t*>(data);
  return h;
}

void getParams(napi_env env, napi_value v, int* out, size_t count, const char* op) {
  bool isTa = false;
  check(env, napi_is_typedarray(env, v, &isTa), "params");
  napi_typedarray_type type;
  size_t length;
  void* data;
  if (isTa) check(env, napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr), "params");
  if (!isTa || type != napi_int32_array || length != count)
    throw JsError(std::string("onednn addon: ") + op + " params must be an Int32Array of length " + std::to_string(count));
  std::memcpy(out, data, count * sizeof(int));
  for (size_t i = 0; i < count; i++)
    if (out[i] < 0) throw JsError(std::string("onednn addon: ") + op + " params must be non-negative");
}

// Completed calls of each exported function, by name: tests assert that the native kernel they
// exercise ran (a kernel that silently fell back to wasm would still give the right values).
std::map<std::string, double>& callCounts() {
  static std::map<std::string, double> counts;
  return counts;
}

// Runs body, turning C++ and oneDNN exceptions into JS exceptions; counts the call when it succeeds.
template <typename F>
napi_value guarded(napi_env env, const char* op, F body) {
  try {
    napi_value r = body();
    callCounts()[op] += 1;
    return r;
  } catch (const dnnl::error& e) {
    std::string msg = std::string("oneDNN ") + op + " failed: " + e.what() + " (status " + std::to_string(int(e.status)) + ")";
    napi_throw_error(env, nullptr, msg.c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

napi_value undefinedValue(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

typedef void (*ConvFn)(const int*, const float*, const float*, float*);
enum class ConvRole { Forward, BackInput, BackFilter };

// Element counts of x, w, y for the conv params.
void convSizes(const int* p, int64_t& x, int64_t& w, int64_t& y) {
  x = int64_t(p[kN]) * p[kH] * p[kW] * p[kC];
  w = int64_t(p[kKH]) * p[kKW] * p[kC] * p[kOC];
  y = int64_t(p[kN]) * p[kOH] * p[kOW] * p[kOC];
}

napi_value convCall(napi_env env, napi_callback_info info, ConvRole role, const char* op) {
  return guarded(env, op, [&]() -> napi_value {
    Args a = getArgs(env, info, 5);
    Heap heap = getHeap(env, a.v[0]);
    int p[kConvParamCount];
    getParams(env, a.v[4], p, kConvParamCount, op);
    int64_t nx, nw, ny;
    convSizes(p, nx, nw, ny);
    int64_t o0 = getInt(env, a.v[1], "offset 0"), o1 = getInt(env, a.v[2], "offset 1"), o2 = getInt(env, a.v[3], "offset 2");
    switch (role) {
      case ConvRole::Forward:
        conv2dForward(p, heap.floats(o0, nx, "x"), heap.floats(o1, nw, "filter"), heap.floats(o2, ny, "output"));
        break;
      case ConvRole::BackInput:
        conv2dBackpropInput(p, heap.floats(o0, ny, "dy"), heap.floats(o1, nw, "filter"), heap.floats(o2, nx, "dx"));
        break;
      case ConvRole::BackFilter:
        conv2dBackpropFilter(p, heap.floats(o0, nx, "x"), heap.floats(o1, ny, "dy"), heap.floats(o2, nw, "dw"));
        break;
    }
    return undefinedValue(env);
  });
}

napi_value Conv2D(napi_env env, napi_callback_info info) { return convCall(env, info, ConvRole::Forward, "conv2d"); }
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  return convCall(env, info, ConvRole::BackInput, "conv2dBackpropInput");
}
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  return convCall(env, info, ConvRole::BackFilter, "conv2dBackpropFilter");
}

double getDouble(napi_env env, napi_value v, const char* what) {
  double x;
  check(env, napi_get_value_double(env, v, &x), what);
  return x;
}

// conv2dFused(heap, xOff, wOff, biasOff (-1: none), yOff, params, activation code, alpha)
napi_value Conv2DFused(napi_env env, napi_callback_info info) {
  return guarded(env, "conv2dFused", [&]() -> napi_value {
    Args a = getArgs(env, info, 8);
    Heap heap = getHeap(env, a.v[0]);
    int p[kConvParamCount];
    getParams(env, a.v[5], p, kConvParamCount, "conv2dFused");
    int64_t nx, nw, ny;
    convSizes(p, nx, nw, ny);
    int64_t biasOff = getInt(env, a.v[3], "bias offset");
    int act = int(getInt(env, a.v[6], "activation"));
    if (act < 0 || act > int(Activation::LeakyRelu)) throw JsError("onednn addon: conv2dFused: unknown activation code " + std::to_string(act));
    conv2dFused(p, heap.floats(getInt(env, a.v[1], "x"), nx, "x"), heap.floats(getInt(env, a.v[2], "filter"), nw, "filter"),
                biasOff < 0 ? nullptr : heap.floats(biasOff, p[kOC], "bias"), heap.floats(getInt(env, a.v[4], "y"), ny, "output"),
                Activation(act), float(getDouble(env, a.v[7], "alpha")));
    return undefinedValue(env);
  });
}

napi_value BatchMatMul(napi_env env, napi_callback_info info) {
  return guarded(env, "batchMatMul", [&]() -> napi_value {
    Args a = getArgs(env, info, 5);
    Heap heap = getHeap(env, a.v[0]);
    int p[kMatMulParamCount];
    getParams(env, a.v[4], p, kMatMulParamCount, "batchMatMul");
    if (p[kBatchA] != p[kBatchB] && p[kBatchA] != 1 && p[kBatchB] != 1)
      throw JsError("onednn addon: batchMatMul batches must match or one must be 1");
    int64_t B = p[kBatchA] > p[kBatchB] ? p[kBatchA] : p[kBatchB];
    int64_t na = int64_t(p[kBatchA]) * p[kM] * p[kK], nb = int64_t(p[kBatchB]) * p[kK] * p[kNcols], nc = B * p[kM] * p[kNcols];
    batchMatMul(p, heap.floats(getInt(env, a.v[1], "a"), na, "a"), heap.floats(getInt(env, a.v[2], "b"), nb, "b"),
                heap.floats(getInt(env, a.v[3], "c"), nc, "output"));
    return undefinedValue(env);
  });
}

std::vector<int64_t> getDims(napi_env env, napi_value v, const char* what) {
  bool isTa = false;
  check(env, napi_is_typedarray(env, v, &isTa), what);
  napi_typedarray_type type;
  size_t length;
  void* data;
  if (isTa) check(env, napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr), what);
  if (!isTa || type != napi_int32_array) throw JsError(std::string("onednn addon: ") + what + " must be an Int32Array");
  const int32_t* d = static_cast<const int32_t*>(data);
  std::vector<int64_t> dims(d, d + length);
  for (int64_t x : dims)
    if (x < 0) throw JsError(std::string("onednn addon: ") + what + " has a negative size");
  return dims;
}

int64_t count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// reduceSum(heap, xOff, yOff, dims: Int32Array, reduce: Int32Array (0/1 per axis), scale)
napi_value ReduceSum(napi_env env, napi_callback_info info) {
  return guarded(env, "reduceSum", [&]() -> napi_value {
    Args a = getArgs(env, info, 6);
    Heap heap = getHeap(env, a.v[0]);
    std::vector<int64_t> dims = getDims(env, a.v[3], "dims"), mask = getDims(env, a.v[4], "reduce mask");
    if (mask.size() != dims.size()) throw JsError("onednn addon: reduceSum: reduce mask and dims differ in length");
    std::vector<bool> reduce(dims.size());
    int64_t outCount = 1;
    for (size_t i = 0; i < dims.size(); i++) {
      reduce[i] = mask[i] != 0;
      if (!reduce[i]) outCount *= dims[i];
    }
    if (count(dims) == 0) throw JsError("onednn addon: reduceSum of an empty tensor");
    countElementwiseCall();
    reduceSum(dims, reduce, heap.floats(getInt(env, a.v[1], "x"), count(dims), "x"), heap.floats(getInt(env, a.v[2], "y"), outCount, "output"),
              getDouble(env, a.v[5], "scale"));
    return undefinedValue(env);
  });
}

GroupNormShape groupNormShape(napi_env env, napi_value dimsV, napi_value groupsV, const char* kernel) {
  std::vector<int64_t> d = getDims(env, dimsV, "dims");
  if (d.size() != 3) throw JsError(std::string("onednn addon: ") + kernel + ": dims must be [batch, pixels, channels]");
  GroupNormShape s{d[0], d[1], d[2], getInt(env, groupsV, "groups")};
  if (s.groups <= 0 || s.channels % s.groups != 0)
    throw JsError(std::string("onednn addon: ") + kernel + ": " + std::to_string(s.channels) + " channels not divisible by " + std::to_string(s.groups) + " groups");
  if (s.batch * s.pixels == 0) throw JsError(std::string("onednn addon: ") + kernel + " of an empty tensor");
  return s;
}

// groupNorm(heap, xOff, gammaOff, betaOff, yOff, meanOff, rstdOff, dims [batch, pixels, channels], groups, eps, silu)
napi_value GroupNorm(napi_env env, napi_callback_info info) {
  return guarded(env, "groupNorm", [&]() -> napi_value {
    Args a = getArgs(env, info, 11);
    Heap heap = getHeap(env, a.v[0]);
    GroupNormShape s = groupNormShape(env, a.v[7], a.v[8], "groupNorm");
    const int64_t n = s.batch * s.pixels * s.channels, stats = s.batch * s.groups;
    countElementwiseCall();
    groupNormForward(s, heap.floats(getInt(env, a.v[1], "x"), n, "x"), heap.floats(getInt(env, a.v[2], "gamma"), s.channels, "gamma"),
                     heap.floats(getInt(env, a.v[3], "beta"), s.channels, "beta"), float(getDouble(env, a.v[9], "eps")), getInt(env, a.v[10], "silu") != 0,
                     heap.floats(getInt(env, a.v[4], "y"), n, "y"), heap.floats(getInt(env, a.v[5], "mean"), stats, "mean"),
                     heap.floats(getInt(env, a.v[6], "rstd"), stats, "rstd"));
    return undefinedValue(env);
  });
}

// groupNormGrad(heap, dOutOff, xOff, gammaOff, betaOff, meanOff, rstdOff, dxOff, dgammaOff, dbetaOff, dims, groups, silu)
napi_value GroupNormGrad(napi_env env, napi_callback_info info) {
  return guarded(env, "groupNormGrad", [&]() -> napi_value {
    Args a = getArgs(env, info, 13);
    Heap heap = getHeap(env, a.v[0]);
    GroupNormShape s = groupNormShape(env, a.v[10], a.v[11], "groupNormGrad");
    const int64_t n = s.batch * s.pixels * s.channels, stats = s.batch * s.groups;
    countElementwiseCall();
    groupNormBackward(s, heap.floats(getInt(env, a.v[1], "dOut"), n, "dOut"), heap.floats(getInt(env, a.v[2], "x"), n, "x"),
                      heap.floats(getInt(env, a.v[3], "gamma"), s.channels, "gamma"), heap.floats(getInt(env, a.v[4], "beta"), s.channels, "beta"),
                      heap.floats(getInt(env, a.v[5], "mean"), stats, "mean"), heap.floats(getInt(env, a.v[6], "rstd"), stats, "rstd"),
                      getInt(env, a.v[12], "silu") != 0, heap.floats(getInt(env, a.v[7], "dx"), n, "dx"),
                      heap.floats(getInt(env, a.v[8], "dgamma"), s.channels, "dgamma"), heap.floats(getInt(env, a.v[9], "dbeta"), s.channels, "dbeta"));
    return undefinedValue(env);
  });
}

// binary(heap, op, aOff, aDims, bOff, bDims, outOff, outDims); dims left-padded to the same rank.
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, "binary", [&]() -> napi_value {
    Args a = getArgs(env, info, 8);
    Heap heap = getHeap(env, a.v[0]);
    int op = int(getInt(env, a.v[1], "op"));
    if (op < 0 || op > int(BinaryOp::Div)) throw JsError("onednn addon: binary: unknown op code " + std::to_string(op));
    std::vector<int64_t> ad = getDims(env, a.v[3], "a dims"), bd = getDims(env, a.v[5], "b dims"), od = getDims(env, a.v[7], "out dims");
    if (ad.size() != od.size() || bd.size() != od.size()) throw JsError("onednn addon: binary: shapes must have the output's rank");
    for (size_t i = 0; i < od.size(); i++)
      if ((ad[i] != od[i] && ad[i] != 1) || (bd[i] != od[i] && bd[i] != 1)) throw JsError("onednn addon: binary: shapes do not broadcast");
    if (count(od) == 0) return undefinedValue(env);
    countElementwiseCall();
    binaryBroadcast(BinaryOp(op), ad, heap.floats(getInt(env, a.v[2], "a"), count(ad), "a"), bd,
                    heap.floats(getInt(env, a.v[4], "b"), count(bd), "b"), od, heap.floats(getInt(env, a.v[6], "out"), count(od), "output"));
    return undefinedValue(env);
  });
}

// unary(heap, op, xOff, yOff, n): y = op(x) elementwise over n floats.
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, "unary", [&]() -> napi_value {
    Args a = getArgs(env, info, 5);
    Heap heap = getHeap(env, a.v[0]);
    int op = int(getInt(env, a.v[1], "op"));
    if (op < 0 || op > int(UnaryOp::Neg)) throw JsError("onednn addon: unary: unknown op code " + std::to_string(op));
    int64_t n = getInt(env, a.v[4], "count");
    if (n <= 0) return undefinedValue(env);
    unary(UnaryOp(op), heap.floats(getInt(env, a.v[2], "x"), n, "x"), heap.floats(getInt(env, a.v[3], "y"), n, "y"), n);
    return undefinedValue(env);
  });
}

// resizeNearestGrad(heap, dyOff, dxOff, dims [batch, dyPixels, xPixels, depth], src: Int32Array of dyPixels)
napi_value ResizeNearestGrad(napi_env env, napi_callback_info info) {
  return guarded(env, "resizeNearestGrad", [&]() -> napi_value {
    Args a = getArgs(env, info, 5);
    Heap heap = getHeap(env, a.v[0]);
    std::vector<int64_t> d = getDims(env, a.v[3], "dims"), src = getDims(env, a.v[4], "source pixels");
    if (d.size() != 4) throw JsError("onednn addon: resizeNearestGrad: dims must have 4 entries");
    const int64_t batch = d[0], dyPixels = d[1], xPixels = d[2], depth = d[3];
    if (int64_t(src.size()) != dyPixels) throw JsError("onednn addon: resizeNearestGrad: source map does not match dy");
    for (int64_t s : src)
      if (s >= xPixels) throw JsError("onednn addon: resizeNearestGrad: source pixel out of range");
    int64_t nx = batch * xPixels * depth;
    if (nx == 0) return undefinedValue(env);
    const float* dy = heap.floats(getInt(env, a.v[1], "dy"), batch * dyPixels * depth, "dy");
    float* dx = heap.floats(getInt(env, a.v[2], "dx"), nx, "dx");
    std::vector<int32_t> s32(src.begin(), src.end());
    resizeNearestGrad(dy, dx, batch, dyPixels, xPixels, depth, s32.data());
    return undefinedValue(env);
  });
}

napi_value ElementwiseCalls(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_double(env, double(elementwiseCalls()), &v);
  return v;
}

// kernelCalls(): { [exported function]: completed calls } since the addon loaded.
napi_value KernelCalls(napi_env env, napi_callback_info) {
  return guarded(env, "kernelCalls", [&]() -> napi_value {
    napi_value obj;
    check(env, napi_create_object(env, &obj), "object");
    for (const auto& kv : callCounts()) {
      napi_value v;
      check(env, napi_create_double(env, kv.second, &v), "count");
      check(env, napi_set_named_property(env, obj, kv.first.c_str(), v), "count");
    }
    return obj;
  });
}

// copyRows(heap, srcOff, srcStride, dstOff, dstStride, rows, width): copies `rows` runs of `width`
// 4-byte elements between strided places (strides in elements): one piece of a concat or split.
napi_value CopyRows(napi_env env, napi_callback_info info) {
  return guarded(env, "copyRows", [&]() -> napi_value {
    Args a = getArgs(env, info, 7);
    Heap heap = getHeap(env, a.v[0]);
    int64_t srcStride = getInt(env, a.v[2], "src stride"), dstStride = getInt(env, a.v[4], "dst stride");
    int64_t rows = getInt(env, a.v[5], "rows"), width = getInt(env, a.v[6], "width");
    if (rows <= 0 || width <= 0) return undefinedValue(env);
    if (srcStride < width || dstStride < width) throw JsError("onednn addon: copyRows: a stride is shorter than the row");
    const float* src = heap.floats(getInt(env, a.v[1], "src"), (rows - 1) * srcStride + width, "src");
    float* dst = heap.floats(getInt(env, a.v[3], "dst"), (rows - 1) * dstStride + width, "dst");
    for (int64_t r = 0; r < rows; r++) std::memcpy(dst + r * dstStride, src + r * srcStride, size_t(width) * 4);
    return undefinedValue(env);
  });
}

napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  return guarded(env, "setNumThreads", [&]() -> napi_value {
    Args a = getArgs(env, info, 1);
    setNumThreads(int(getInt(env, a.v[0], "threads")));
    return undefinedValue(env);
  });
}

napi_value NumThreads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, numThreads(), &v);
  return v;
}

napi_value CacheSize(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, int(cacheSize()), &v);
  return v;
}

napi_value ClearCache(napi_env env, napi_callback_info) {
  clearCache();
  return undefinedValue(env);
}

napi_value SetBlockedActivations(napi_env env, napi_callback_info info) {
  return guarded(env, "setBlockedActivations", [&]() -> napi_value {
    Args a = getArgs(env, info, 1);
    bool on;
    check(env, napi_get_value_bool(env, a.v[0], &on), "flag");
    setBlockedActivations(on);
    clearCache();
    return undefinedValue(env);
  });
}

const char* isaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::sse41: return "sse41";
    default: return "other";
  }
}

napi_value Info(napi_env env, napi_callback_info) {
  return guarded(env, "info", [&]() -> napi_value {
    const dnnl_version_t* v = dnnl_version();
    std::string s = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
                    ", isa " + isaName(dnnl::get_effective_cpu_isa()) + ", " + std::to_string(numThreads()) + " threads";
    napi_value r;
    napi_create_string_utf8(env, s.c_str(), s.size(), &r);
    return r;
  });
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dFused", nullptr, Conv2DFused, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchMatMul", nullptr, BatchMatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduceSum", nullptr, ReduceSum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupNorm", nullptr, GroupNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupNormGrad", nullptr, GroupNormGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"resizeNearestGrad", nullptr, ResizeNearestGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"elementwiseCalls", nullptr, ElementwiseCalls, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"kernelCalls", nullptr, KernelCalls, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"copyRows", nullptr, CopyRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setNumThreads", nullptr, SetNumThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"numThreads", nullptr, NumThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cacheSize", nullptr, CacheSize, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"clearCache", nullptr, ClearCache, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setBlockedActivations", nullptr, SetBlockedActivations, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
