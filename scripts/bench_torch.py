#!/usr/bin/env python3
"""PyTorch mirror of lib/core/unet (same layers, widths, norms, attention, parameter names) as a yardstick.

Run with Debian's torch: /usr/bin/python3 scripts/bench_torch.py [options]
  --config JSON       UNetConfig as lib/core/unet/config.ts resolves it (default: the reference config)
  --threads N         torch.set_num_threads(N) (default 1: tfjs wasm runs one thread under Node)
  --device D          cpu (default), cuda or cuda:N: where the model, data and sampling run; on a GPU
                      the timings wait for the device (torch.cuda.synchronize) and "device" names it
  --batch B --train-steps N --warmup W --sample-images M --sample-steps S
  --profile N         also print the N ops that take the most time in one more training step (self
                      time on the device: GPU time on cuda), to set beside the webgpu kernel profile
  --count             only print {"params": ..., "names": [...]} (for the tests)
  --check FILE        load weights + inputs exported by tests/unet.spec.ts, print the forward output
Prints one JSON object on stdout (its last line).
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

REFERENCE = {
    "imageSize": 28, "inChannels": 1, "outChannels": 1, "baseChannels": 32, "channelMults": [1, 2, 2],
    "numResBlocks": 2, "attentionResolutions": [7], "attentionHeads": 4, "groups": 8,
    "downsample": "conv", "midAttention": True,
}


def conv(cin, cout, k=3, stride=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-5)
        self.conv1 = conv(cin, cout)
        self.temb = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-5)
        self.conv2 = conv(cout, cout)
        self.skip = conv(cin, cout, 1) if cin != cout else None

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(e)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


def mha(q, k, v, heads, mask=None):
    b, n, c = q.shape
    m = k.shape[1]
    d = c // heads
    split = lambda x, l: x.reshape(b, l, heads, d).transpose(1, 2)
    s = split(q, n) @ split(k, m).transpose(-1, -2) / math.sqrt(d)
    if mask is not None:
        s = s + ((1 - mask.float()) * -1e9)[:, None, None, :]
    out = s.softmax(-1) @ split(v, m)
    return out.transpose(1, 2).reshape(b, n, c)


class Cross(nn.Module):
    def __init__(self, ch, ctx, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch, eps=1e-5)
        self.q = nn.Linear(ch, ch)
        self.kv = nn.Linear(ctx, 2 * ch)
        self.proj = nn.Linear(ch, ch)


class Attention(nn.Module):
    def __init__(self, ch, heads, groups, ctx=None):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch, eps=1e-5)
        self.qkv = nn.Linear(ch, 3 * ch)
        self.proj = nn.Linear(ch, ch)
        self.cross = Cross(ch, ctx, groups) if ctx is not None else None

    def forward(self, x, ctx=None, mask=None):
        b, c, h, w = x.shape
        tok = lambda t: t.flatten(2).transpose(1, 2)  # [B, HW, C], row-major like tfjs's reshape
        back = lambda t: t.transpose(1, 2).reshape(b, c, h, w)
        q, k, v = self.qkv(tok(self.norm(x))).chunk(3, dim=-1)
        y = x + back(self.proj(mha(q, k, v, self.heads)))
        if self.cross is not None:
            cq = self.cross.q(tok(self.cross.norm(y)))
            ck, cv = self.cross.kv(ctx).chunk(2, dim=-1)
            y = y + back(self.cross.proj(mha(cq, ck, cv, self.heads, mask)))
        return y


class TimeEmbedding(nn.Module):
    def __init__(self, sin_dim, out_dim):
        super().__init__()
        self.sin_dim = sin_dim
        self.lin1 = nn.Linear(sin_dim, out_dim)
        self.lin2 = nn.Linear(out_dim, out_dim)

    def forward(self, t):
        half = self.sin_dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        a = t.float()[:, None] * freqs[None]
        return self.lin2(F.silu(self.lin1(torch.cat([a.sin(), a.cos()], 1))))


class Level(nn.Module):
    def __init__(self):
        super().__init__()
        self.res = nn.ModuleList()
        self.attn = nn.ModuleList()


class Mid(nn.Module):
    def __init__(self, ch, temb, c, attn):
        super().__init__()
        self.res1 = ResBlock(ch, ch, temb, c["groups"])
        self.attn = attn
        self.res2 = ResBlock(ch, ch, temb, c["groups"])


class UNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        base, L, g = c["baseChannels"], len(c["channelMults"]), c["groups"]
        temb = 4 * base
        ctx = c.get("contextDim")
        attn = lambda ch: Attention(ch, c["attentionHeads"], g, ctx)
        self.time = TimeEmbedding(base, temb)
        self.classEmb = nn.Embedding(c["numClasses"] + 1, temb) if c.get("numClasses") else None
        self.convIn = conv(c["inChannels"] + (c.get("condChannels") or 0), base)
        skips, ch, side = [base], base, c["imageSize"]
        self.down = nn.ModuleList()
        for i in range(L):
            w = base * c["channelMults"][i]
            lv = Level()
            for _ in range(c["numResBlocks"]):
                lv.res.append(ResBlock(ch, w, temb, g))
                ch = w
                if side in c["attentionResolutions"]:
                    lv.attn.append(attn(ch))
                skips.append(ch)
            if i < L - 1:
                lv.down = conv(ch, ch, 3, 2) if c["downsample"] == "conv" else None
                skips.append(ch)
                side //= 2
            self.down.append(lv)
        self.mid = Mid(ch, temb, c, attn(ch) if c["midAttention"] else None)
        ups = {}
        for i in reversed(range(L)):
            w = base * c["channelMults"][i]
            lv = Level()
            for _ in range(c["numResBlocks"] + 1):
                lv.res.append(ResBlock(ch + skips.pop(), w, temb, g))
                ch = w
                if side in c["attentionResolutions"]:
                    lv.attn.append(attn(ch))
            if i > 0:
                lv.up = conv(ch, ch)
                side *= 2
            ups[i] = lv
        self.up = nn.ModuleList([ups[i] for i in range(L)])  # names up.{level}, as in TS
        self.normOut = nn.GroupNorm(g, ch, eps=1e-5)
        self.convOut = conv(ch, c["outChannels"])

    def forward(self, x, t, labels=None, concat=None, ctx=None, mask=None):
        L = len(self.down)
        e = self.time(t)
        if self.classEmb is not None:
            if labels is None:
                labels = torch.full((x.shape[0],), self.c["numClasses"], dtype=torch.long)
            e = e + self.classEmb(labels)
        e = F.silu(e)
        h = self.convIn(torch.cat([x, concat], 1) if concat is not None else x)
        hs = [h]
        for i, lv in enumerate(self.down):
            for j, rb in enumerate(lv.res):
                h = rb(h, e)
                if len(lv.attn):
                    h = lv.attn[j](h, ctx, mask)
                hs.append(h)
            if i < L - 1:
                h = lv.down(h) if lv.down is not None else F.avg_pool2d(h, 2)
                hs.append(h)
        h = self.mid.res1(h, e)
        if self.mid.attn is not None:
            h = self.mid.attn(h, ctx, mask)
        h = self.mid.res2(h, e)
        for i in reversed(range(L)):
            lv = self.up[i]
            for j, rb in enumerate(lv.res):
                h = rb(torch.cat([h, hs.pop()], 1), e)
                if len(lv.attn):
                    h = lv.attn[j](h, ctx, mask)
            if i > 0:
                h = lv.up(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.convOut(F.silu(self.normOut(h)))


def linear_alphas_cumprod(T=1000):
    return torch.cumprod(1 - torch.linspace(1e-4, 0.02, T, dtype=torch.float64), 0).float()


def ddim_sample(model, shape, steps, abar, gen):
    """DDIM, eta = 0, trailing spacing, x0 clipped to [-1, 1]: as lib/core/samplers/ddim.ts."""
    T = abar.shape[0]
    dev = abar.device
    ts = [round(T - i * T / steps) - 1 for i in range(steps)]
    x = torch.randn(shape, generator=gen).to(dev)  # drawn on the CPU: the same noise on every device
    for i, t in enumerate(ts):
        a = abar[t]
        ap = abar[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0, device=dev)
        eps = model(x, torch.full((shape[0],), t, dtype=torch.long, device=dev))
        x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        x = ap.sqrt() * x0 + (1 - ap).sqrt() * eps
    return x


def to_torch_layout(name, arr, shape, p):
    t = torch.tensor(arr, dtype=torch.float32).reshape(shape)
    if t.dim() == 4:  # conv [kh, kw, in, out] -> [out, in, kh, kw]
        return t.permute(3, 2, 0, 1).contiguous()
    if t.dim() == 2 and not name.startswith("classEmb"):  # dense [in, out] -> [out, in]
        return t.t().contiguous()
    return t


def check(path):
    d = json.load(open(path))
    model = UNet(d["config"])
    sd = model.state_dict()
    missing = sorted(set(sd) ^ set(d["params"]))
    if missing:
        raise SystemExit(f"parameter names differ between TS and PyTorch: {missing[:10]}")
    for name, v in d["params"].items():
        t = to_torch_layout(name, v["data"], v["shape"], sd[name])
        if tuple(t.shape) != tuple(sd[name].shape):
            raise SystemExit(f"{name}: TS shape {list(t.shape)} vs PyTorch {list(sd[name].shape)}")
        sd[name] = t
    model.load_state_dict(sd)
    nhwc = lambda a, s: torch.tensor(a["data"], dtype=torch.float32).reshape(a["shape"]).permute(0, 3, 1, 2)
    x = nhwc(d["x"], None)
    kw = {}
    if d.get("labels") is not None:
        kw["labels"] = torch.tensor(d["labels"], dtype=torch.long)
    if d.get("concat") is not None:
        kw["concat"] = nhwc(d["concat"], None)
    if d.get("context") is not None:
        kw["ctx"] = torch.tensor(d["context"]["data"], dtype=torch.float32).reshape(d["context"]["shape"])
    if d.get("mask") is not None:
        kw["mask"] = torch.tensor(d["mask"]["data"], dtype=torch.float32).reshape(d["mask"]["shape"])
    with torch.no_grad():
        y = model(x, torch.tensor(d["t"], dtype=torch.float32), **kw)
    y = y.permute(0, 2, 3, 1)
    print(json.dumps({"shape": list(y.shape), "data": y.flatten().tolist()}))


def device_of(name):
    """torch.device for --device; a clear error when CUDA was asked for and is not there."""
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise SystemExit(f"--device must be cpu, cuda or cuda:N, got '{name}'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: torch {torch.__version__} sees no CUDA device (torch.cuda.is_available() is False)")
    if dev.type not in ("cpu", "cuda"):
        raise SystemExit(f"--device must be cpu, cuda or cuda:N, got '{name}'")
    return dev


def sync(dev):
    # CUDA kernels run asynchronously: a timer must wait for them to finish.
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def profile_step(step, dev, top):
    """Prints the `top` ops by self time in one training step (PyTorch's profiler; on cuda the GPU time
    of the kernels each op launched). Never fails the benchmark: the profiler's API moves between
    PyTorch versions, so a failure is printed and the timings stand."""
    try:
        import warnings
        from torch.autograd import DeviceType
        from torch.profiler import ProfilerActivity, profile

        cuda = dev.type == "cuda"
        with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as prof:
            step()
            sync(dev)

        def self_us(e):
            if not cuda:
                return e.self_cpu_time_total
            with warnings.catch_warnings():  # self_cuda_time_total is deprecated in newer versions
                warnings.simplefilter("ignore")
                v = getattr(e, "self_device_time_total", None)
                return v if v is not None else e.self_cuda_time_total

        # Ops only (the rows of CPU type); on cuda the kernel rows would count the same time again.
        ops = sorted((e for e in prof.key_averages() if e.device_type == DeviceType.CPU), key=self_us, reverse=True)
        total = sum(self_us(e) for e in ops)
        print(f"ops of one training step ({sum(e.count for e in ops)} calls, {total / 1000:.1f} ms of {'GPU' if cuda else 'CPU'} self time):")
        for e in ops[:top]:
            if total > 0 and self_us(e) > 0:
                print(f"  {e.key[:36]:36} x{e.count:<5} {self_us(e) / 1000:9.2f} ms {100 * self_us(e) / total:5.1f} %")
    except Exception as ex:  # noqa: BLE001 - the profile is an extra; the timings above are the result
        print(f"op profile failed: {ex!r}")


def bench(c, a):
    dev = device_of(a.device)
    torch.manual_seed(0)
    model = UNet(c).to(dev)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    abar = linear_alphas_cumprod().to(dev)
    S, C = c["imageSize"], c["inChannels"]
    x0 = (torch.rand(a.batch, C, S, S) * 2 - 1).to(dev)

    def step():
        t = torch.randint(0, 1000, (a.batch,), device=dev)
        noise = torch.randn_like(x0)
        ab = abar[t][:, None, None, None]
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        loss = F.mse_loss(model(xt, t), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.train_steps):
        sync(dev)
        t0 = time.perf_counter()
        step()  # loss.item() waits for the step, as our loss read does
        sync(dev)
        times.append((time.perf_counter() - t0) * 1000)
    if a.profile > 0:
        profile_step(step, dev, a.profile)
    model.eval()
    sample_s = None
    if a.sample_images > 0:
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            sync(dev)
            t0 = time.perf_counter()
            ddim_sample(model, (a.sample_images, C, S, S), a.sample_steps, abar, gen)
            sync(dev)
            sample_s = time.perf_counter() - t0
    return {
        "framework": f"pytorch {torch.__version__}",
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        # PyTorch's default lets cuDNN convolutions run in TF32 on Ampere and newer; WebGPU computes in FP32.
        "cudnn_tf32": bool(torch.backends.cudnn.allow_tf32) if dev.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "params": params,
        "batch": a.batch,
        "train_ms": statistics.median(times) if times else None,
        "train_ms_all": [round(v, 1) for v in times],
        "sample_images": a.sample_images,
        "sample_steps": a.sample_steps,
        "sample_s": sample_s,
        "images_per_s": a.sample_images / sample_s if sample_s else None,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--train-steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--sample-images", type=int, default=64)
    p.add_argument("--sample-steps", type=int, default=50)
    p.add_argument("--device", default="cpu")
    p.add_argument("--profile", type=int, default=0)
    p.add_argument("--count", action="store_true")
    p.add_argument("--check", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.check:
        return check(a.check)
    c = json.loads(a.config) if a.config else REFERENCE
    if a.count:
        m = UNet(c)
        print(json.dumps({"params": sum(p.numel() for p in m.parameters()), "names": sorted(m.state_dict().keys())}))
        return
    print(json.dumps(bench(c, a)))


if __name__ == "__main__":
    main()
