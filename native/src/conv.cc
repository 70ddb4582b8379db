#include "conv.h"

#include "cached_op.h"

namespace onednn_tfjs {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

static bool gBlocked = false;
void setBlockedActivations(bool on) { gBlocked = on; }

namespace {

struct ConvDescs {
  memory::desc x, w, y;          // user layouts: NHWC, HWIO, NHWC
  memory::desc xAny, wAny, yAny; // what the primitive may choose
  memory::dims strides, dilates, padL, padR;
};

ConvDescs convDescs(const int* p) {
  ConvDescs d;
  memory::dims xd = {p[kN], p[kC], p[kH], p[kW]};
  memory::dims wd = {p[kOC], p[kC], p[kKH], p[kKW]};
  memory::dims yd = {p[kN], p[kOC], p[kOH], p[kOW]};
  d.x = memory::desc(xd, dt::f32, tag::nhwc);
  d.w = memory::desc(wd, dt::f32, tag::hwio);
  d.y = memory::desc(yd, dt::f32, tag::nhwc);
  d.xAny = gBlocked ? memory::desc(xd, dt::f32, tag::any) : d.x;
  d.yAny = gBlocked ? memory::desc(yd, dt::f32, tag::any) : d.y;
  d.wAny = memory::desc(wd, dt::f32, tag::any);
  d.strides = {p[kStrideH], p[kStrideW]};
  d.dilates = {p[kDilH] - 1, p[kDilW] - 1};  // oneDNN counts the gaps
  d.padL = {p[kPadT], p[kPadL]};
  d.padR = {p[kPadB], p[kPadR]};
  return d;
}

dnnl::convolution_forward::primitive_desc forwardPd(const ConvDescs& d, dnnl::prop_kind kind) {
  dnnl::convolution_forward::desc desc(kind, dnnl::algorithm::convolution_direct, d.xAny, d.wAny, d.yAny,
                                       d.strides, d.dilates, d.padL, d.padR);
  return dnnl::convolution_forward::primitive_desc(desc, defaultAttr(), cpuEngine());
}

double convMacs(const int* p) {
  return double(p[kN]) * p[kOH] * p[kOW] * p[kOC] * p[kC] * p[kKH] * p[kKW];
}

std::string key(const char* op, const int* p) {
  std::string k = cacheKey(op, p, kConvParamCount);
  if (gBlocked) k += ",blocked";
  return k;
}

}  // namespace

void conv2dForward(const int* p, const float* x, const float* w, float* y) {
  CachedOp& op = cachedOp(key("conv_fwd", p), convMacs(p), [&] {
    ConvDescs d = convDescs(p);
    auto pd = forwardPd(d, dnnl::prop_kind::forward_inference);
    CachedOp c;
    c.prim = dnnl::convolution_forward(pd);
    c.scratchDesc = pd.scratchpad_desc();
    c.args.push_back(makeArg(DNNL_ARG_SRC, false, d.x, pd.src_desc()));
    c.args.push_back(makeArg(DNNL_ARG_WEIGHTS, false, d.w, pd.weights_desc()));
    c.args.push_back(makeArg(DNNL_ARG_DST, true, d.y, pd.dst_desc()));
    return c;
  });
  op.run({const_cast<float*>(x), const_cast<float*>(w), y});
}

void conv2dFused(const int* p, const float* x, const float* w, const float* bias, float* y, Activation act, float alpha) {
  std::string k = key("conv_fused", p) + (bias ? ",bias," : ",nobias,") + std::to_string(int(act)) + "," + std::to_string(alpha);
  CachedOp& op = cachedOp(k, convMacs(p), [&] {
    ConvDescs d = convDescs(p);
    memory::desc biasMd({p[kOC]}, dt::f32, tag::x);
    dnnl::convolution_forward::desc desc =
        bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, d.xAny,
                                               d.wAny, biasMd, d.yAny, d.strides, d.dilates, d.padL, d.padR)
             : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, d.xAny,
                                               d.wAny, d.yAny, d.strides, d.dilates, d.padL, d.padR);
    dnnl::primitive_attr attr = defaultAttr();
    dnnl::post_ops ops;
    switch (act) {
      case Activation::Linear: break;
      case Activation::Relu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
      case Activation::LeakyRelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f); break;
      case Activation::Relu6: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f); break;
      case Activation::Elu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f); break;
      case Activation::Sigmoid: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
    }
    attr.set_post_ops(ops);
    dnnl::convolution_forward::primitive_desc pd(desc, attr, cpuEngine());
    CachedOp c;
    c.prim = dnnl::convolution_forward(pd);
    c.scratchDesc = pd.scratchpad_desc();
    c.args.push_back(makeArg(DNNL_ARG_SRC, false, d.x, pd.src_desc()));
    c.args.push_back(makeArg(DNNL_ARG_WEIGHTS, false, d.w, pd.weights_desc()));
    c.args.push_back(makeArg(DNNL_ARG_DST, true, d.y, pd.dst_desc()));
    if (bias) c.args.push_back(makeArg(DNNL_ARG_BIAS, false, biasMd, pd.bias_desc()));
    return c;
  });
  std::vector<void*> ptrs = {const_cast<float*>(x), const_cast<float*>(w), y};
  if (bias) ptrs.push_back(const_cast<float*>(bias));
  op.run(ptrs);
}

void conv2dBackpropInput(const int* p, const float* dy, const float* w, float* dx) {
  CachedOp& op = cachedOp(key("conv_bwd_data", p), convMacs(p), [&] {
    ConvDescs d = convDescs(p);
    auto hint = forwardPd(d, dnnl::prop_kind::forward_training);
    dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.xAny, d.wAny, d.yAny,
                                               d.strides, d.dilates, d.padL, d.padR);
    dnnl::convolution_backward_data::primitive_desc pd(desc, defaultAttr(), cpuEngine(), hint);
    CachedOp c;
    c.prim = dnnl::convolution_backward_data(pd);
    c.scratchDesc = pd.scratchpad_desc();
    c.args.push_back(makeArg(DNNL_ARG_DIFF_DST, false, d.y, pd.diff_dst_desc()));
    c.args.push_back(makeArg(DNNL_ARG_WEIGHTS, false, d.w, pd.weights_desc()));
    c.args.push_back(makeArg(DNNL_ARG_DIFF_SRC, true, d.x, pd.diff_src_desc()));
    return c;
  });
  op.run({const_cast<float*>(dy), const_cast<float*>(w), dx});
}

void conv2dBackpropFilter(const int* p, const float* x, const float* dy, float* dw) {
  CachedOp& op = cachedOp(key("conv_bwd_weights", p), convMacs(p), [&] {
    ConvDescs d = convDescs(p);
    auto hint = forwardPd(d, dnnl::prop_kind::forward_training);
    dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, d.xAny, d.wAny, d.yAny,
                                                  d.strides, d.dilates, d.padL, d.padR);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, defaultAttr(), cpuEngine(), hint);
    CachedOp c;
    c.prim = dnnl::convolution_backward_weights(pd);
    c.scratchDesc = pd.scratchpad_desc();
    c.args.push_back(makeArg(DNNL_ARG_SRC, false, d.x, pd.src_desc()));
    c.args.push_back(makeArg(DNNL_ARG_DIFF_DST, false, d.y, pd.diff_dst_desc()));
    c.args.push_back(makeArg(DNNL_ARG_DIFF_WEIGHTS, true, d.w, pd.diff_weights_desc()));
    return c;
  });
  op.run({const_cast<float*>(x), const_cast<float*>(dy), dw});
}

}  // namespace onednn_tfjs
