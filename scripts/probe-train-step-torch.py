# The net of scripts/probe-train-step.ts in PyTorch (CPU), as the speed yardstick.
# Usage: /usr/bin/python3 scripts/probe-train-step-torch.py [threads]
import sys, time, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
torch.manual_seed(0)
def conv(ci, co, s=1): return nn.Conv2d(ci, co, 3, s, 1)
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1, s.c2, s.d1, s.c3, s.d2, s.c4 = conv(1, 32), conv(32, 32), conv(32, 64, 2), conv(64, 64), conv(64, 64, 2), conv(64, 64)
        s.u1, s.u2, s.out = conv(128, 64), conv(96, 32), conv(32, 1)
    def forward(s, x):
        g = lambda t: F.silu(F.group_norm(t, 8, eps=1e-5))
        h1 = g(s.c2(g(s.c1(x)))); h2 = g(s.c3(g(s.d1(h1)))); h3 = g(s.c4(g(s.d2(h2))))
        u1 = g(s.u1(torch.cat([F.interpolate(h3, size=14, mode='nearest'), h2], 1)))
        u2 = g(s.u2(torch.cat([F.interpolate(u1, size=28, mode='nearest'), h1], 1)))
        return s.out(u2)
m = Net(); opt = torch.optim.Adam(m.parameters(), 1e-3)
x = torch.randn(64, 1, 28, 28); y = torch.randn(64, 1, 28, 28)
def step():
    opt.zero_grad(); loss = F.mse_loss(m(x), y); loss.backward(); opt.step(); return loss.item()
step(); ts = []
for _ in range(10):
    t0 = time.perf_counter(); step(); ts.append(time.perf_counter() - t0)
ts.sort()
print(f"pytorch {torch.__version__} threads {torch.get_num_threads()}: params {sum(p.numel() for p in m.parameters())}, median {ts[5]*1000:.0f} ms/step (min {ts[0]*1000:.0f})")
