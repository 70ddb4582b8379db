{
  "targets": [
    {
      # N-API addon running tfjs's hot training kernels through oneDNN (libdnnl-dev).
      "target_name": "onednn_tfjs",
      "sources": ["src/addon.cc", "src/context.cc", "src/cached_op.cc", "src/conv.cc", "src/matmul.cc", "src/reduce.cc", "src/binary.cc", "src/elementwise.cc", "src/group_norm.cc", "src/parallel.cc"],
      "include_dirs": ["/usr/include/oneapi"],
      "libraries": ["-ldnnl", "-lgomp", "-lpthread"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
