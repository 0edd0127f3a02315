"""PyTorch peer for `npm run bench`: the same reference models as bench/models/,
timed the same way (forward + backward + AdamW, clip 1.0). Prints one JSON object.

Run with Debian's python3-torch (and libopenblas0-pthread, or PyTorch falls back
to a slow reference BLAS). This script is for benchmarks only; reca never needs it.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.heads = heads

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        shape = (b, t, self.heads, d // self.heads)
        q, k, v = (z.view(shape).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class Transformer(nn.Module):
    def __init__(self, vocab, seq, d, layers, heads):
        super().__init__()
        self.emb, self.pos = nn.Embedding(vocab, d), nn.Parameter(torch.randn(seq, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

    def loss(self, ids, tgt):
        x = self.emb(ids) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return F.cross_entropy(self.head(self.ln(x)).flatten(0, 1), tgt.flatten())


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb):
        super().__init__()
        self.gn1, self.gn2 = nn.GroupNorm(8, cin), nn.GroupNorm(8, cout, affine=False)
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, padding=1), nn.Conv2d(cout, cout, 3, padding=1)
        self.mod = nn.Linear(emb, 2 * cout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, c):
        h = self.conv1(F.silu(self.gn1(x)))
        scale, shift = self.mod(c)[:, :, None, None].chunk(2, dim=1)
        h = self.conv2(F.silu(self.gn2(h) * (1 + scale) + shift))
        return self.skip(x) + h


class Attention(nn.Module):
    """Self-attention over the 8x8 grid, then cross-attention to the condition."""

    def __init__(self, ch, ctx, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(ch), nn.LayerNorm(ch)
        self.self_attn = nn.MultiheadAttention(ch, heads, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(ch, heads, kdim=ctx, vdim=ctx, batch_first=True)

    def forward(self, x, ctx):
        b, c, h, w = x.shape
        s = x.flatten(2).transpose(1, 2)
        y = self.ln1(s)
        s = s + self.self_attn(y, y, y, need_weights=False)[0]
        s = s + self.cross_attn(self.ln2(s), ctx, ctx, need_weights=False)[0]
        return s.transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    """The calibration U-Net: 32-64-96 channels at 32/16/8, attention at 8x8."""

    def __init__(self, ctx=128, emb=128):
        super().__init__()
        self.emb_dim = emb
        self.t1, self.t2 = nn.Linear(emb, emb), nn.Linear(emb, emb)
        self.pool = nn.Linear(ctx, emb)
        self.stem = nn.Conv2d(3, 32, 3, padding=1)
        self.r32a = ResBlock(32, 32, emb)
        self.down1 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.r16a = ResBlock(64, 64, emb)
        self.down2 = nn.Conv2d(64, 96, 3, stride=2, padding=1)
        self.r8a = ResBlock(96, 96, emb)
        self.mid = ResBlock(96, 96, emb)
        self.attn = Attention(96, ctx, 4)
        self.r8b = ResBlock(192, 96, emb)
        self.up1 = nn.Conv2d(96, 64, 3, padding=1)
        self.r16b = ResBlock(128, 64, emb)
        self.up2 = nn.Conv2d(64, 32, 3, padding=1)
        self.r32b = ResBlock(64, 32, emb)
        self.out_gn, self.out = nn.GroupNorm(8, 32), nn.Conv2d(32, 3, 3, padding=1)

    def timestep(self, t):
        half = self.emb_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / half)
        a = t[:, None] * 1000.0 * freqs[None]
        return torch.cat([a.sin(), a.cos()], dim=-1)

    def velocity(self, x, t, ctx):
        c = self.t2(F.silu(self.t1(self.timestep(t)))) + self.pool(ctx.mean(1))
        s32 = self.r32a(self.stem(x), c)
        s16 = self.r16a(self.down1(s32), c)
        s8 = self.r8a(self.down2(s16), c)
        h = self.attn(self.mid(s8, c), ctx)
        h = self.r8b(torch.cat([h, s8], 1), c)
        h = self.r16b(torch.cat([self.up1(F.interpolate(h, scale_factor=2.0)), s16], 1), c)
        h = self.r32b(torch.cat([self.up2(F.interpolate(h, scale_factor=2.0)), s32], 1), c)
        return self.out(F.silu(self.out_gn(h)))

    def loss(self, x, t, ctx, v):
        return F.mse_loss(self.velocity(x, t, ctx), v)


def time_steps(model, batch, steps, warmup):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model.loss(*batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"ms": times[len(times) // 2], "params": sum(p.numel() for p in model.parameters())}


def time_forward(model, inputs, steps, warmup):
    """The sampler's forward: velocity only, no autograd (torch.no_grad, eval mode)."""
    model.eval()
    with torch.no_grad():
        for _ in range(warmup):
            model.velocity(*inputs)
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            model.velocity(*inputs)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"ms": times[len(times) // 2], "params": sum(p.numel() for p in model.parameters())}


def matmul_gflops(n, reps=10):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--only", default="transformer,unet,unet_forward,matmul")
    ap.add_argument("--forward-batch", type=int, default=32)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    only = set(args.only.split(","))
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if "transformer" in only:
        ids = torch.randint(0, 256, (16, 128))
        out["transformer"] = time_steps(Transformer(256, 128, 256, 4, 4), (ids, ids.roll(-1, 1)), args.steps, 2)
    if "unet" in only:
        b = 32
        batch = (torch.randn(b, 3, 32, 32), torch.rand(b), torch.randn(b, 16, 128), torch.randn(b, 3, 32, 32))
        out["unet"] = time_steps(UNet(), batch, args.steps, 2)
    if "unet_forward" in only:
        b = args.forward_batch
        inputs = (torch.randn(b, 3, 32, 32), torch.rand(b), torch.randn(b, 16, 128))
        out["unet_forward"] = time_forward(UNet(), inputs, args.steps, 2)
    if "matmul" in only:
        out["matmul"] = {str(n): matmul_gflops(n) for n in (256, 512, 1024)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
