// Conv2D forward and its two gradients on NHWC activations and HWIO filters (tfjs layouts).
#pragma once

namespace onednn_tfjs {

// Integer parameters of a 2-D convolution, in the order the JS side packs them.
enum ConvParam {
  kN, kH, kW, kC, kKH, kKW, kOC, kOH, kOW,
  kStrideH, kStrideW, kDilH, kDilW,  // dilations as tfjs counts them (1 = dense)
  kPadT, kPadL, kPadB, kPadR,
  kConvParamCount
};

void conv2dForward(const int* p, const float* x, const float* w, float* y);

// tfjs FusedConv2D: conv + optional bias + activation, fused by oneDNN (bias add and eltwise post-op).
enum class Activation { Linear = 0, Relu = 1, Relu6 = 2, Elu = 3, Sigmoid = 4, LeakyRelu = 5 };
void conv2dFused(const int* p, const float* x, const float* w, const float* bias, float* y, Activation act, float alpha);
void conv2dBackpropInput(const int* p, const float* dy, const float* w, float* dx);
void conv2dBackpropFilter(const int* p, const float* x, const float* dy, float* dw);

// When true, activations are reordered to oneDNN's blocked layout around each conv
// (an experiment knob: NHWC in place is the default).
void setBlockedActivations(bool on);

}  // namespace onednn_tfjs
