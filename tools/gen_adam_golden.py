#!/usr/bin/python3
"""Writes tests/golden/train_adam.txt: Adam trajectories computed by PyTorch.

An independent implementation's numbers for facetracker's Adam
(src/nn/train/grad.h): torch.optim.Adam (amsgrad off, no weight decay) with
the prototype's Keras-style inverse-time decay, lr_t = lr / (1 + decay*(t-1)),
expressed as a LambdaLR schedule. Gradients are random (fixed seed) and
fed to torch as .grad, so only the optimiser is tested.

Run with Debian's python3-torch:  /usr/bin/python3 tools/gen_adam_golden.py
Format (text, whitespace separated):
  FT_ADAM_GOLDEN 1
  n N steps S lr LR beta1 B1 beta2 B2 eps EPS decay D
  w0 <N floats>
  then per step t = 1..S:  step t  g <N floats>  w <N floats after the step>
"""
import os
import sys

import torch

N, STEPS = 37, 30
LR, B1, B2, EPS, DECAY = 1e-2, 0.9, 0.999, 1e-7, 0.05


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "tests", "golden", "train_adam.txt")
    torch.manual_seed(20240601)
    w = torch.nn.Parameter(torch.randn(N, dtype=torch.float32))
    opt = torch.optim.Adam([w], lr=LR, betas=(B1, B2), eps=EPS)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1.0 + DECAY * s))
    fmt = lambda t: " ".join("%.9g" % float(v) for v in t.detach().tolist())
    lines = ["FT_ADAM_GOLDEN 1",
             "n %d steps %d lr %.17g beta1 %.17g beta2 %.17g eps %.17g decay %.17g"
             % (N, STEPS, LR, B1, B2, EPS, DECAY),
             "w0 " + fmt(w)]
    for t in range(1, STEPS + 1):
        # Gradients of varied scale, some tiny (eps matters), some zero.
        g = torch.randn(N, dtype=torch.float32) * (10.0 ** torch.randint(-6, 2, (N,)).float())
        g[t % N] = 0.0
        w.grad = g.clone()
        opt.step()
        sched.step()
        lines.append("step %d" % t)
        lines.append("g " + fmt(g))
        lines.append("w " + fmt(w))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (torch %s)" % (out, torch.__version__))


if __name__ == "__main__":
    main()
