#!/usr/bin/python3
"""The facetracker training model in PyTorch, for bench/bench_train.c's numbers.

Same architecture and batch: 120x120x3 input, MobileNetV1 (conv 3x3/2 32,
13 x (depthwise 3x3 + pointwise 1x1), bias + ReLU6 everywhere; padding 1,
which gives the same shapes and FLOPs as TF SAME here), global max pooling,
dense 2048 ReLU -> dense 1 (sigmoid, BCE from the logit) and dense 2048 ReLU
-> dense 4 sigmoid (the prototype's localisation loss), Adam lr 1e-4 eps 1e-7.
Random weights and inputs (speed only). Reports images/s (median step) for:
  fine-tune: forward + backward through everything + Adam;
  frozen step incl. backbone forward: backbone under no_grad, heads trained.
Run with Debian's torch: /usr/bin/python3 bench/torch_train.py [--threads 2] [--steps 10]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn

BLOCKS = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512),
          (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024)]


def backbone():
    layers = [nn.Conv2d(3, 32, 3, 2, 1), nn.ReLU6()]
    c = 32
    for s, co in BLOCKS:
        layers += [nn.Conv2d(c, c, 3, s, 1, groups=c), nn.ReLU6(), nn.Conv2d(c, co, 1), nn.ReLU6()]
        c = co
    return nn.Sequential(*layers)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = backbone()
        self.c1, self.c2 = nn.Linear(1024, 2048), nn.Linear(2048, 1)
        self.b1, self.b2 = nn.Linear(1024, 2048), nn.Linear(2048, 4)

    def heads(self, f):
        return self.c2(torch.relu(self.c1(f))).squeeze(1), torch.sigmoid(self.b2(torch.relu(self.b1(f))))

    def features(self, x):
        return torch.amax(self.backbone(x), dim=(2, 3))


def loss_fn(zc, pb, face, box):
    bce = nn.functional.binary_cross_entropy_with_logits(zc, face)
    m = face.unsqueeze(1)
    d_xy = ((pb[:, :2] - box[:, :2]) ** 2).sum(1)
    wp, hp = pb[:, 2] - pb[:, 0], pb[:, 3] - pb[:, 1]
    wt, ht = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    loc = ((d_xy + (wp - wt) ** 2 + (hp - ht) ** 2) * m.squeeze(1)).sum()
    return loc + 0.5 * bce


def bench(mode, batch, steps, channels_last):
    torch.manual_seed(1)
    model = Model()
    x = torch.rand(batch, 3, 120, 120)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    face = (torch.arange(batch) % 2).float()
    box = torch.tensor([[0.2, 0.2, 0.7, 0.8]]).repeat(batch, 1)
    params = model.parameters() if mode == "fine" else \
        list(model.c1.parameters()) + list(model.c2.parameters()) + \
        list(model.b1.parameters()) + list(model.b2.parameters())
    opt = torch.optim.Adam(params, lr=1e-4, eps=1e-7)
    times = []
    for s in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        if mode == "fine":
            f = model.features(x)
        else:
            with torch.no_grad():
                f = model.features(x)
        zc, pb = model.heads(f)
        loss = loss_fn(zc, pb, face, box)
        loss.backward()
        opt.step()
        if s:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print("torch %s, threads %d, batch %d, %d timed steps (median), mkldnn %s"
          % (torch.__version__, torch.get_num_threads(), a.batch, a.steps,
             torch.backends.mkldnn.is_available()))
    for mode, label in (("fine", "fine-tune (whole backbone)"),
                        ("frozen", "frozen step incl. backbone forward")):
        best = max(bench(mode, a.batch, a.steps, cl) for cl in (False, True))
        print("%s: %.1f images/s (best of NCHW / channels_last)" % (label, best))


if __name__ == "__main__":
    main()
