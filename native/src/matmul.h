// Batched matrix product C[b] = op(A[b]) * op(B[b]) with optional transposes and batch broadcast
// (a batch of 1 is shared by the other operand's batch), as tfjs's BatchMatMul kernel needs.
#pragma once

namespace onednn_tfjs {

enum MatMulParam { kBatchA, kBatchB, kM, kK, kNcols, kTransA, kTransB, kMatMulParamCount };

void batchMatMul(const int* p, const float* a, const float* b, float* c);

}  // namespace onednn_tfjs
