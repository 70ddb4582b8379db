#!/usr/bin/env python3
"""The PyTorch side of `npm run bench -- --quality M`: the lesson-05 recipe on the same architecture
(bench_torch.py's mirror of lib/core/unet), trained for a fixed wall-clock budget on the same cores,
then sampled with DDIM-50 (EMA weights). The course scores both sides' samples with its own FID.

/usr/bin/python3 scripts/bench_quality_torch.py --data TRAIN.npy --out SAMPLES.npy --budget-s S \
    --recipe JSON [--config JSON] [--threads N] [--samples N] [--sample-steps S] [--seed K]
  TRAIN.npy    uint8 [N, H, W] or [N, H, W, C] training images (written by scripts/bench-quality.ts)
  SAMPLES.npy  float32 [samples, H, W, C] in [-1, 1] (NHWC, as the course's tensors)
  recipe       {"lr", "warmup", "minLr", "batch", "ema", "emaWarmup", "prediction": "eps"|"v",
                "minSnr": gamma or 0, "schedule": "linear"|"cosine"}: the same keys bench-quality.ts uses
The learning rate follows the clock as on the course's side (lib/core/train/time_budget.ts): a warm-up
by steps, then a cosine over the seconds left; training stops when the budget is spent. Prints one JSON
object (last line).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import REFERENCE, UNet  # noqa: E402


def alphas_cumprod(kind, T=1000):
    if kind == "linear":
        return torch.cumprod(1 - torch.linspace(1e-4, 0.02, T, dtype=torch.float64), 0)
    if kind == "cosine":  # Nichol & Dhariwal 2021, s = 0.008, betas clipped at 0.999 (lib/core/schedule.ts)
        s = 0.008
        f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
        betas = torch.tensor([min(1 - f(t + 1) / f(t), 0.999) for t in range(T)], dtype=torch.float64)
        return torch.cumprod(1 - betas, 0)
    raise ValueError(f"schedule must be linear or cosine, got {kind}")


def lr_at(step, elapsed, warm_end, budget, r):
    """Linear warm-up by steps, then a cosine to minLr over the seconds left after it (time_budget.ts)."""
    if step < r["warmup"]:
        return r["lr"] * (step + 1) / r["warmup"]
    left = budget - warm_end
    p = min(1.0, (elapsed - warm_end) / left) if left > 0 else 1.0
    return r["minLr"] + 0.5 * (r["lr"] - r["minLr"]) * (1 + math.cos(math.pi * p))


def ema_decay(step, r):
    """Fixed decay, or with emaWarmup the (1 + n) / (10 + n) ramp capped at the decay (diffusers)."""
    return min(r["ema"], (1 + step) / (10 + step)) if r.get("emaWarmup") else r["ema"]


def sample(model, abar, n, steps, shape, prediction, gen, batch=250):
    """DDIM, eta 0, trailing spacing, x0 clipped (lib/core/samplers/ddim.ts), in batches."""
    T = abar.shape[0]
    ts = [round(T - i * T / steps) - 1 for i in range(steps)]
    out = []
    for b0 in range(0, n, batch):
        b = min(batch, n - b0)
        x = torch.randn((b,) + shape, generator=gen)
        for i, t in enumerate(ts):
            a = abar[t].float()
            ap = abar[ts[i + 1]].float() if i + 1 < len(ts) else torch.tensor(1.0)
            o = model(x, torch.full((b,), t, dtype=torch.long))
            x0 = (x - (1 - a).sqrt() * o) / a.sqrt() if prediction == "eps" else a.sqrt() * x - (1 - a).sqrt() * o
            x0 = x0.clamp(-1, 1)
            eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
            x = ap.sqrt() * x0 + (1 - ap).sqrt() * eps
        out.append(x)
    return torch.cat(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--budget-s", type=float, required=True)
    p.add_argument("--recipe", required=True)
    p.add_argument("--config", default=None)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--sample-steps", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    r = json.loads(a.recipe)
    c = json.loads(a.config) if a.config else REFERENCE
    imgs = np.load(a.data)
    if imgs.dtype != np.uint8:
        sys.exit(f"{a.data}: expected uint8 images, got {imgs.dtype}")
    if imgs.ndim == 3:
        imgs = imgs[..., None]
    data = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1  # NCHW in [-1, 1]
    torch.manual_seed(a.seed)
    model = UNet(c)
    ema = UNet(c)
    ema.load_state_dict(model.state_dict())
    for q in ema.parameters():
        q.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=r["lr"], betas=(0.9, 0.999), eps=1e-8)
    abar = alphas_cumprod(r.get("schedule", "linear"))
    abar_f = abar.float()
    gen = torch.Generator().manual_seed(a.seed)
    n = data.shape[0]
    perm = torch.randperm(n, generator=gen)
    pos = 0
    B = r["batch"]

    def step(k, lr):
        nonlocal perm, pos
        if pos + B > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        x0 = data[perm[pos:pos + B]]
        pos += B
        t = torch.randint(0, abar.shape[0], (B,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        ab = abar_f[t][:, None, None, None]
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        target = noise if r["prediction"] == "eps" else ab.sqrt() * noise - (1 - ab).sqrt() * x0
        err = ((model(xt, t) - target) ** 2).mean(dim=(1, 2, 3))
        if r.get("minSnr"):
            snr = abar[t] / (1 - abar[t])
            w = torch.clamp(snr, max=r["minSnr"]) / (snr if r["prediction"] == "eps" else snr + 1)
            err = err * w.float()
        loss = err.mean()
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        d = ema_decay(k, r)
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm, alpha=1 - d)
        return loss.item()

    t0 = time.perf_counter()
    losses, shown, warm_end, k = [], t0, None, 0
    while (now := time.perf_counter()) - t0 < a.budget_s:
        elapsed = now - t0
        if k >= r["warmup"] and warm_end is None:
            warm_end = elapsed
        losses.append(step(k, lr_at(k, elapsed, warm_end, a.budget_s, r)))
        k += 1
        if time.perf_counter() - shown >= 60:  # a line a minute: the run is silent otherwise for the whole budget
            shown = time.perf_counter()
            print(f"pytorch: train step {k}, {shown - t0:.0f} of {a.budget_s:g} s, loss {losses[-1]:.4f}",
                  file=sys.stderr, flush=True)
    total = k
    train_s = time.perf_counter() - t0
    ema.eval()
    print(f"pytorch: DDIM-{a.sample_steps}, {a.samples} samples", file=sys.stderr, flush=True)
    t1 = time.perf_counter()
    with torch.no_grad():
        x = sample(ema, abar, a.samples, a.sample_steps, tuple(data.shape[1:]), r["prediction"], torch.Generator().manual_seed(a.seed + 1))
    sample_s = time.perf_counter() - t1
    np.save(a.out, x.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32))
    tail = losses[-100:] if losses else [float("nan")]
    print(json.dumps({"framework": f"pytorch {torch.__version__}", "threads": torch.get_num_threads(), "steps": total,
                      "train_s": train_s, "sample_s": sample_s, "final_loss": sum(tail) / len(tail)}))


if __name__ == "__main__":
    main()
