#include "group_norm.h"

#include <cmath>
#include <vector>

#include "fast_exp.h"
#include "parallel.h"

namespace onednn_tfjs {

namespace {

// Each row below is one pixel's C channels, with per-channel coefficients, so the loops vectorise
// across channels whatever the group size.

ONEDNN_TFJS_CLONES void addRow(const float* __restrict x, double* __restrict sum, int64_t C) {
  for (int64_t c = 0; c < C; c++) sum[c] += x[c];
}

ONEDNN_TFJS_CLONES void addSquaredDeviationRow(const float* __restrict x, const float* __restrict mu, double* __restrict sq, int64_t C) {
  for (int64_t c = 0; c < C; c++) {
    const double d = double(x[c]) - mu[c];
    sq[c] += d * d;
  }
}

// y = x·a + b, then y·σ(y) when silu.
ONEDNN_TFJS_CLONES void normaliseRow(const float* __restrict x, const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t C,
                                     bool silu) {
  if (silu) {
    for (int64_t c = 0; c < C; c++) {
      const float v = x[c] * a[c] + b[c];
      y[c] = v / (1.0f + expApprox(-v));
    }
  } else {
    for (int64_t c = 0; c < C; c++) y[c] = x[c] * a[c] + b[c];
  }
}

// Backward, first pass over a row: dy (the gradient at γ·x̂ + β, through SiLU when silu) goes to
// out, and the sums of dy·x̂ and dy per channel grow. x̂ = (x − mu)·r. One loop per case, without a
// branch inside, so that both vectorise.
ONEDNN_TFJS_CLONES void gradRow(const float* __restrict d, const float* __restrict x, const float* __restrict mu, const float* __restrict r,
                                const float* __restrict gamma, const float* __restrict beta, float* __restrict out, double* __restrict gsum,
                                double* __restrict bsum, int64_t C, bool silu) {
  if (silu) {
    for (int64_t c = 0; c < C; c++) {
      const float xh = (x[c] - mu[c]) * r[c];
      const float v = xh * gamma[c] + beta[c];
      const float s = 1.0f / (1.0f + expApprox(-v));
      const float dy = d[c] * s * (1.0f + v * (1.0f - s));
      out[c] = dy;
      gsum[c] += double(dy * xh);
      bsum[c] += double(dy);
    }
  } else {
    for (int64_t c = 0; c < C; c++) {
      const float xh = (x[c] - mu[c]) * r[c];
      const float dy = d[c];
      out[c] = dy;
      gsum[c] += double(dy * xh);
      bsum[c] += double(dy);
    }
  }
}

// Second pass: dx = r·(dy·γ − m1 − x̂·m2), dy read from (and dx written to) the same row.
ONEDNN_TFJS_CLONES void dxRow(float* __restrict dx, const float* __restrict x, const float* __restrict mu, const float* __restrict r,
                              const float* __restrict gamma, const float* __restrict m1, const float* __restrict m2, int64_t C) {
  for (int64_t c = 0; c < C; c++) {
    const float xh = (x[c] - mu[c]) * r[c];
    dx[c] = r[c] * (dx[c] * gamma[c] - m1[c] - xh * m2[c]);
  }
}

// Per-channel copies of each group's value, for the rows above.
void spread(const double* perGroup, int64_t G, int64_t cpg, float* perChannel) {
  for (int64_t g = 0; g < G; g++)
    for (int64_t k = 0; k < cpg; k++) perChannel[g * cpg + k] = float(perGroup[g]);
}

// Sums per-channel values over each group's channels.
void groupSums(const double* perChannel, int64_t G, int64_t cpg, double* perGroup) {
  for (int64_t g = 0; g < G; g++) {
    double s = 0;
    for (int64_t k = 0; k < cpg; k++) s += perChannel[g * cpg + k];
    perGroup[g] = s;
  }
}

}  // namespace

void groupNormForward(const GroupNormShape& s, const float* x, const float* gamma, const float* beta, float eps, bool silu,
                      float* y, float* mean, float* rstd) {
  const int64_t C = s.channels, G = s.groups, P = s.pixels, cpg = C / G;
  const double n = double(P * cpg);
  parallelFor(s.batch, 1, [&](int64_t b0, int64_t b1) {
    std::vector<double> chan(C), grp(G);
    std::vector<float> mu(C), a(C), sh(C);
    for (int64_t b = b0; b < b1; b++) {
      const float* xb = x + b * P * C;
      // Two passes (mean, then squared deviations), as tf.moments does, summed in double.
      std::fill(chan.begin(), chan.end(), 0.0);
      for (int64_t p = 0; p < P; p++) addRow(xb + p * C, chan.data(), C);
      groupSums(chan.data(), G, cpg, grp.data());
      for (int64_t g = 0; g < G; g++) grp[g] /= n;
      for (int64_t g = 0; g < G; g++) mean[b * G + g] = float(grp[g]);
      spread(grp.data(), G, cpg, mu.data());
      std::fill(chan.begin(), chan.end(), 0.0);
      for (int64_t p = 0; p < P; p++) addSquaredDeviationRow(xb + p * C, mu.data(), chan.data(), C);
      groupSums(chan.data(), G, cpg, grp.data());
      for (int64_t g = 0; g < G; g++) rstd[b * G + g] = float(1.0 / std::sqrt(grp[g] / n + eps));
      // y = γ·(x − mean)·rstd + β = x·a + sh per channel.
      for (int64_t c = 0; c < C; c++) {
        a[c] = rstd[b * G + c / cpg] * gamma[c];
        sh[c] = beta[c] - mu[c] * a[c];
      }
      for (int64_t p = 0; p < P; p++) normaliseRow(xb + p * C, a.data(), sh.data(), y + (b * P + p) * C, C, silu);
    }
  });
}

void groupNormBackward(const GroupNormShape& s, const float* dOut, const float* x, const float* gamma, const float* beta,
                       const float* mean, const float* rstd, bool silu, float* dx, float* dgamma, float* dbeta) {
  const int64_t C = s.channels, G = s.groups, P = s.pixels, cpg = C / G;
  const double n = double(P * cpg);
  // Per-image sums of dy·x̂ and dy per channel: dγ and dβ once added over the images (in order below).
  std::vector<double> pg(s.batch * C, 0.0), pb(s.batch * C, 0.0);
  parallelFor(s.batch, 1, [&](int64_t b0, int64_t b1) {
    std::vector<double> grp(G), weighted(C);
    std::vector<float> mu(C), r(C), m1(C), m2(C);
    for (int64_t b = b0; b < b1; b++) {
      const float* xb = x + b * P * C;
      float* dxb = dx + b * P * C;
      double* gsum = pg.data() + b * C;
      double* bsum = pb.data() + b * C;
      for (int64_t c = 0; c < C; c++) {
        mu[c] = mean[b * G + c / cpg];
        r[c] = rstd[b * G + c / cpg];
      }
      for (int64_t p = 0; p < P; p++) gradRow(dOut + (b * P + p) * C, xb + p * C, mu.data(), r.data(), gamma, beta, dxb + p * C, gsum, bsum, C, silu);
      // Per group: mean(dx̂) = Σ_c γ_c·Σ_p dy / n and mean(dx̂·x̂) = Σ_c γ_c·Σ_p dy·x̂ / n.
      for (int64_t c = 0; c < C; c++) weighted[c] = gamma[c] * bsum[c];
      groupSums(weighted.data(), G, cpg, grp.data());
      for (int64_t g = 0; g < G; g++) grp[g] /= n;
      spread(grp.data(), G, cpg, m1.data());
      for (int64_t c = 0; c < C; c++) weighted[c] = gamma[c] * gsum[c];
      groupSums(weighted.data(), G, cpg, grp.data());
      for (int64_t g = 0; g < G; g++) grp[g] /= n;
      spread(grp.data(), G, cpg, m2.data());
      for (int64_t p = 0; p < P; p++) dxRow(dxb + p * C, xb + p * C, mu.data(), r.data(), gamma, m1.data(), m2.data(), C);
    }
  });
  for (int64_t c = 0; c < C; c++) {
    double g = 0, bs = 0;
    for (int64_t b = 0; b < s.batch; b++) {
      g += pg[b * C + c];
      bs += pb[b * C + c];
    }
    dgamma[c] = float(g);
    dbeta[c] = float(bs);
  }
}

}  // namespace onednn_tfjs
