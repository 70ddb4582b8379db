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
  --check FILE        load weights + inputs exported by tests/unet.spec.ts, print the forward output; besides
                      the core UNet it mirrors cond.vector (vectorDim), CoordConv position channels, the text
                      UNet (lib/methods/text: transformer on token ids, pooled [EOS] into the time embedding)
                      and GLIGEN's gated layers (config "grounding": {inputDim, tokenDim}, lib/methods/gligen)
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


class LayerNorm(nn.Module):
    """lib/methods/text/layer_norm.ts: over the last axis, parameters named gamma and beta."""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.gamma, self.beta, self.eps)


class TransformerBlock(nn.Module):
    """Pre-norm: x + attn(LN(x)) with padded keys masked, then x + fc2(relu(fc1(LN(x))))."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = LayerNorm(width)
        self.fc1 = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x, mask):
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        h = x + self.proj(mha(q, k, v, self.heads, mask))
        return h + self.fc2(F.relu(self.fc1(self.ln2(h))))


class TextTransformer(nn.Module):
    """Token + position embeddings, blocks, a final LN; pooled = the [EOS] token (last real one)."""

    def __init__(self, t):
        super().__init__()
        self.tokenEmb = nn.Parameter(torch.zeros(len(t["vocab"]), t["width"]))
        self.posEmb = nn.Parameter(torch.zeros(t["contextLength"], t["width"]))
        self.block = nn.ModuleList([TransformerBlock(t["width"], t["heads"]) for _ in range(t["layers"])])
        self.lnOut = LayerNorm(t["width"])

    def forward(self, ids, mask):
        h = self.tokenEmb[ids] + self.posEmb[None]
        for blk in self.block:
            h = blk(h, mask)
        tokens = self.lnOut(h)
        eos = mask.sum(1).long() - 1
        return tokens, tokens[torch.arange(ids.shape[0]), eos]


class GatedSelfAttention(nn.Module):
    """GLIGEN: x + tanh(gamma) * proj(TS(SelfAttn([GN(x) tokens, tokenProj(grounding tokens)])))."""

    def __init__(self, ch, token_dim, heads, groups):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch, eps=1e-5)
        self.tokenProj = nn.Linear(token_dim, ch)
        self.qkv = nn.Linear(ch, 3 * ch)
        self.proj = nn.Linear(ch, ch)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x, tokens, mask):
        b, c, h, w = x.shape
        vis = self.norm(x).flatten(2).transpose(1, 2)
        q, k, v = self.qkv(torch.cat([vis, self.tokenProj(tokens)], 1)).chunk(3, dim=-1)
        full = torch.cat([torch.ones(b, h * w), mask.float()], 1)
        sel = mha(q, k, v, self.heads, full)[:, : h * w]
        return x + torch.tanh(self.gamma) * self.proj(sel).transpose(1, 2).reshape(b, c, h, w)


class GroundingTokenizer(nn.Module):
    def __init__(self, input_dim, token_dim):
        super().__init__()
        self.fc1 = nn.Linear(input_dim, 2 * token_dim)
        self.fc2 = nn.Linear(2 * token_dim, token_dim)

    def forward(self, g):
        return self.fc2(F.silu(self.fc1(g)))


class Gligen(nn.Module):
    """Holds a level's gated layers as gligen.attn.<j> (mid: gligen.attn), or the shared tokenizer."""


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
        self.vectorToTime = nn.Linear(c["vectorDim"], temb) if c.get("vectorDim") else None
        extra = (c.get("condChannels") or 0) + (2 if c.get("positionChannels") else 0)
        self.convIn = conv(c["inChannels"] + extra, base)
        # GLIGEN (grounding = {inputDim, tokenDim}): a gated layer after every attention block.
        gr = c.get("grounding")
        gated = lambda ch: GatedSelfAttention(ch, gr["tokenDim"], c["attentionHeads"], g)
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
                    if gr:
                        self._gated(lv).attn.append(gated(ch))
                skips.append(ch)
            if i < L - 1:
                lv.down = conv(ch, ch, 3, 2) if c["downsample"] == "conv" else None
                skips.append(ch)
                side //= 2
            self.down.append(lv)
        self.mid = Mid(ch, temb, c, attn(ch) if c["midAttention"] else None)
        if gr and c["midAttention"]:
            self.mid.gligen = Gligen()
            self.mid.gligen.attn = gated(ch)
        ups = {}
        for i in reversed(range(L)):
            w = base * c["channelMults"][i]
            lv = Level()
            for _ in range(c["numResBlocks"] + 1):
                lv.res.append(ResBlock(ch + skips.pop(), w, temb, g))
                ch = w
                if side in c["attentionResolutions"]:
                    lv.attn.append(attn(ch))
                    if gr:
                        self._gated(lv).attn.append(gated(ch))
            if i > 0:
                lv.up = conv(ch, ch)
                side *= 2
            ups[i] = lv
        self.up = nn.ModuleList([ups[i] for i in range(L)])  # names up.{level}, as in TS
        self.normOut = nn.GroupNorm(g, ch, eps=1e-5)
        self.convOut = conv(ch, c["outChannels"])
        if gr:
            self.gligen = Gligen()
            self.gligen.tokenizer = GroundingTokenizer(gr["inputDim"], gr["tokenDim"])
        # A text UNet (lib/methods/text/text_unet.ts): its encoder's tokens are the context, its pooled
        # [EOS] vector goes through textToTime into the time embedding.
        if c.get("text"):
            self.text = TextTransformer(c["text"])
            self.textToTime = nn.Linear(c["text"]["width"], temb)

    @staticmethod
    def _gated(lv):
        if not hasattr(lv, "gligen"):
            lv.gligen = Gligen()
            lv.gligen.attn = nn.ModuleList()
        return lv.gligen

    def forward(self, x, t, labels=None, concat=None, ctx=None, mask=None, vector=None, ids=None, grounding=None,
                grounding_mask=None):
        L = len(self.down)
        e = self.time(t)
        if self.classEmb is not None:
            if labels is None:
                labels = torch.full((x.shape[0],), self.c["numClasses"], dtype=torch.long)
            e = e + self.classEmb(labels)
        if ids is not None:  # text: mask is the token mask
            ctx, pooled = self.text(ids, mask)
            e = e + self.textToTime(pooled)
        if self.vectorToTime is not None:
            e = e + self.vectorToTime(vector)
        e = F.silu(e)
        b, _, side, _ = x.shape
        ins = [x] + ([concat] if concat is not None else [])
        if self.c.get("positionChannels"):  # CoordConv: (x, y) of each pixel centre in (-1, 1)
            r = (2 * torch.arange(side, dtype=torch.float32) + 1) / side - 1
            grid = torch.stack([r[None, :].expand(side, side), r[:, None].expand(side, side)])
            ins.append(grid[None].expand(b, 2, side, side))
        h = self.convIn(torch.cat(ins, 1))
        tok = self.gligen.tokenizer(grounding) if grounding is not None else None
        gate = lambda layer, v: layer(v, tok, grounding_mask) if tok is not None else v
        hs = [h]
        for i, lv in enumerate(self.down):
            for j, rb in enumerate(lv.res):
                h = rb(h, e)
                if len(lv.attn):
                    h = lv.attn[j](h, ctx, mask)
                    if hasattr(lv, "gligen"):
                        h = gate(lv.gligen.attn[j], h)
                hs.append(h)
            if i < L - 1:
                h = lv.down(h) if lv.down is not None else F.avg_pool2d(h, 2)
                hs.append(h)
        h = self.mid.res1(h, e)
        if self.mid.attn is not None:
            h = self.mid.attn(h, ctx, mask)
            if hasattr(self.mid, "gligen"):
                h = gate(self.mid.gligen.attn, h)
        h = self.mid.res2(h, e)
        for i in reversed(range(L)):
            lv = self.up[i]
            for j, rb in enumerate(lv.res):
                h = rb(torch.cat([h, hs.pop()], 1), e)
                if len(lv.attn):
                    h = lv.attn[j](h, ctx, mask)
                    if hasattr(lv, "gligen"):
                        h = gate(lv.gligen.attn[j], h)
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
    # dense [in, out] -> [out, in]; embedding tables ([rows, width]) stay as they are
    if t.dim() == 2 and not name.startswith("classEmb") and not name.endswith(("tokenEmb", "posEmb")):
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
    if d.get("ids") is not None:  # token ids [B, L] (the TS tokenizer's); mask is then the token mask
        kw["ids"] = torch.tensor(d["ids"]["data"], dtype=torch.long).reshape(d["ids"]["shape"])
    for key, arg in (("vector", "vector"), ("grounding", "grounding"), ("groundingMask", "grounding_mask")):
        if d.get(key) is not None:
            kw[arg] = torch.tensor(d[key]["data"], dtype=torch.float32).reshape(d[key]["shape"])
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
