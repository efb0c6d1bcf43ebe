#!/usr/bin/python3
"""Writes the Keras .h5 test fixtures in tests/data/h5/ and their expected
outputs, without Keras: the groups, attributes and model_config JSON are
written directly with h5py the way tf.keras 2.x (hdf5_format.py) and
Keras 3 (keras/src/legacy/saving/legacy_h5_format.py) write them; the
expected outputs come from the small numpy interpreter below (run_model),
which is independent of the C code under test.

Usage: /usr/bin/python3 tools/gen_keras_h5.py [OUT_DIR]   (Debian's
python3-h5py and python3-numpy). Deterministic: fixed seeds.
"""
import json
import os
import sys

import h5py
import numpy as np

MAGIC = "facetracker-keras-h5-golden"
VERSION = 1


# ---- Test input: the same formula is computed by tests/unit/test_model.c ----

def test_input(h, w, c):
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return (((y * 31 + x * 17 + ch * 7) % 256) / 255.0).astype(np.float32)


# ---- Layer configs, in each Keras version's flavour ----

class Net:
    """Builds a functional model config and its weights, layer by layer."""

    def __init__(self, k3, name, rng):
        self.k3, self.name, self.rng = k3, name, rng
        self.layers, self.weights = [], {}  # weights: layer -> [(var, array)]
        self.inputs, self.outputs = [], []

    def dtype(self):
        if self.k3:
            return {"module": "keras", "class_name": "DTypePolicy",
                    "config": {"name": "float32"}, "registered_name": None}
        return "float32"

    def _node(self, src, shape):
        if src is None:
            return []
        name, node = src
        if self.k3:
            # Keras 3 serialize_node: args holding __keras_tensor__ objects.
            return [{"args": [{"class_name": "__keras_tensor__",
                               "config": {"shape": shape, "dtype": "float32",
                                          "keras_history": [name, node, 0]}}],
                     "kwargs": {}}]
        return [[[name, node, 0, {}]]]

    def add(self, cls, name, cfg, src, in_shape=None, weights=()):
        base = {"name": name, "trainable": True, "dtype": self.dtype()}
        base.update(cfg)
        layer = {"class_name": cls, "config": base, "name": name,
                 "inbound_nodes": self._node(src, in_shape)}
        self.layers.append(layer)
        if weights:
            self.weights[name] = list(weights)
        return (name, 0)

    def input(self, name, shape):
        cfg = {"batch_shape" if self.k3 else "batch_input_shape": [None] + list(shape),
               "sparse": False}
        if not self.k3:
            cfg["ragged"] = False
        l = self.add("InputLayer", name, cfg, None)
        del self.layers[-1]["config"]["trainable"]
        self.inputs.append([name, 0, 0])
        return l

    def init(self, kind):
        return {"class_name": kind, "config": {"seed": None} if kind == "GlorotUniform" else {}}

    def conv(self, name, src, cin, filters, k, strides=1, padding="same", act="relu",
             bias=True, dilation=1):
        kern = self.rng.normal(0, np.sqrt(2.0 / (k * k * cin)), (k, k, cin, filters))
        w = [("kernel", kern.astype(np.float32))]
        if bias:
            w.append(("bias", self.rng.normal(0, 0.1, filters).astype(np.float32)))
        cfg = {"filters": filters, "kernel_size": [k, k], "strides": [strides, strides],
               "padding": padding, "data_format": "channels_last",
               "dilation_rate": [dilation, dilation], "groups": 1, "activation": act,
               "use_bias": bias, "kernel_initializer": self.init("GlorotUniform"),
               "bias_initializer": self.init("Zeros"), "kernel_regularizer": None,
               "bias_regularizer": None, "activity_regularizer": None,
               "kernel_constraint": None, "bias_constraint": None}
        return self.add("Conv2D", name, cfg, src, weights=w)

    def dwconv(self, name, src, c, k, mult, strides=1, padding="same", act="linear"):
        kern = self.rng.normal(0, np.sqrt(2.0 / (k * k)), (k, k, c, mult)).astype(np.float32)
        w = [("depthwise_kernel", kern), ("bias", self.rng.normal(0, 0.1, c * mult).astype(np.float32))]
        cfg = {"kernel_size": [k, k], "strides": [strides, strides], "padding": padding,
               "data_format": "channels_last", "dilation_rate": [1, 1],
               "depth_multiplier": mult, "activation": act, "use_bias": True}
        return self.add("DepthwiseConv2D", name, cfg, src, weights=w)

    def dense(self, name, src, nin, units, act):
        kern = self.rng.normal(0, np.sqrt(1.0 / nin), (nin, units)).astype(np.float32)
        w = [("kernel", kern), ("bias", self.rng.normal(0, 0.1, units).astype(np.float32))]
        cfg = {"units": units, "activation": act, "use_bias": True,
               "kernel_initializer": self.init("GlorotUniform"),
               "bias_initializer": self.init("Zeros")}
        return self.add("Dense", name, cfg, src, weights=w)

    def bn(self, name, src, c, center=True, scale=True, eps=1e-3):
        w = []
        if scale:
            w.append(("gamma", self.rng.uniform(0.5, 1.5, c).astype(np.float32)))
        if center:
            w.append(("beta", self.rng.normal(0, 0.2, c).astype(np.float32)))
        w.append(("moving_mean", self.rng.normal(0, 0.3, c).astype(np.float32)))
        w.append(("moving_variance", self.rng.uniform(0.5, 1.5, c).astype(np.float32)))
        cfg = {"axis": -1 if self.k3 else [3], "momentum": 0.99, "epsilon": eps,
               "center": center, "scale": scale}
        return self.add("BatchNormalization", name, cfg, src, weights=w)

    def pool(self, cls, name, src, size, strides, padding):
        cfg = {"pool_size": [size, size], "padding": padding,
               "strides": [strides, strides], "data_format": "channels_last"}
        return self.add(cls, name, cfg, src)

    def simple(self, cls, name, src, **cfg):
        return self.add(cls, name, cfg, src)

    def config(self):
        return {"name": self.name, "trainable": True, "layers": self.layers,
                "input_layers": self.inputs, "output_layers": self.outputs}


def vgg16_tiny(k3, rng, input_name):
    """VGG16(include_top=False)'s layer names and shapes, few filters."""
    n = Net(k3, "vgg16", rng)
    x = n.input(input_name, [None, None, 3])
    cin = 3
    for b, (filters, convs) in enumerate([(4, 2), (8, 2), (8, 3), (16, 3), (16, 3)], 1):
        for i in range(1, convs + 1):
            x = n.conv("block%d_conv%d" % (b, i), x, cin, filters, 3)
            cin = filters
        x = n.pool("MaxPooling2D", "block%d_pool" % b, x, 2, 2, "valid")
    n.outputs = [["block5_pool", 0, 0]]
    return n


def facetracker_tiny(k3, seed):
    """The prototype's facetracker.h5 shape: input 120x120x3 -> vgg16 ->
    two heads GlobalMaxPooling2D -> Dense relu -> Dense 1 / 4 sigmoid
    (Dense 2048 shrunk to 32 to keep the file small)."""
    rng = np.random.default_rng(seed)
    top = Net(k3, "model" if not k3 else "functional", rng)
    x = top.input("input_1" if not k3 else "input_layer", [120, 120, 3])
    sub = vgg16_tiny(k3, rng, "input_2" if not k3 else "input_layer_1")
    # Nested functional models count a built-in node: tf.keras writes call 1;
    # Keras 3's serialize_node drops nodes outside the outer model (call 0).
    top.add("Functional", "vgg16", sub.config(), x, [None, 120, 120, 3])
    top.weights["vgg16"] = ("nested", sub)
    vref = ("vgg16", 0 if k3 else 1)
    f1 = top.add("GlobalMaxPooling2D", "global_max_pooling2d",
                 {"data_format": "channels_last", "keepdims": False}, vref, [None, 3, 3, 16])
    f2 = top.add("GlobalMaxPooling2D", "global_max_pooling2d_1",
                 {"data_format": "channels_last", "keepdims": False}, vref, [None, 3, 3, 16])
    c1 = top.dense("dense", f1, 16, 32, "relu")
    r1 = top.dense("dense_2", f2, 16, 32, "relu")
    top.dense("dense_1", c1, 32, 1, "sigmoid")
    top.dense("dense_3", r1, 32, 4, "sigmoid")
    top.outputs = [["dense_1", 0, 0], ["dense_3", 0, 0]]
    return top, [(120, 120, 3)]


def mixed(k3, seed):
    """Every supported layer kind, odd sizes, SAME/VALID, two outputs."""
    rng = np.random.default_rng(seed)
    n = Net(k3, "mixed", rng)
    x = n.input("input_1" if not k3 else "input_layer", [33, 31, 3])
    x = n.simple("ZeroPadding2D", "zero_padding2d", x, padding=[[1, 2], [0, 1]],
                 data_format="channels_last")
    x = n.conv("conv2d", x, 3, 8, 3, strides=2, padding="valid", act="relu")
    x = n.bn("batch_normalization", x, 8)
    x = n.simple("ReLU", "re_lu", x, max_value=6.0, negative_slope=0.0, threshold=0.0)
    x = n.dwconv("depthwise_conv2d", x, 8, 3, 2)
    x = n.bn("batch_normalization_1", x, 16, center=False, eps=1e-2)
    x = n.simple("Activation", "activation", x, activation="relu")
    x = n.pool("MaxPooling2D", "max_pooling2d", x, 3, 2, "same")
    x = n.pool("AveragePooling2D", "average_pooling2d", x, 2, 1, "same")
    x = n.simple("Dropout", "dropout", x, rate=0.3, noise_shape=None, seed=None)
    x = n.conv("conv2d_1", x, 16, 6, 1, act="tanh", bias=False)
    g = n.simple("GlobalAveragePooling2D", "global_average_pooling2d", x,
                 data_format="channels_last", keepdims=False)
    n.dense("dense", g, 6, 5, "softmax")
    y = n.conv("conv2d_2", x, 6, 4, 3, act="linear", dilation=2)
    y = n.simple("ReLU", "re_lu_1", y, max_value=None, negative_slope=0.1, threshold=0.05)
    y = n.simple("Flatten", "flatten", y, data_format="channels_last")
    n.dense("dense_1", y, 9 * 8 * 4, 3, "sigmoid")
    n.outputs = [["dense", 0, 0], ["dense_1", 0, 0]]
    return n, [(33, 31, 3)]


# ---- Writing the two layouts ----

def weight_list(net, layer):
    """(full weight name, array) in Keras's legacy order for one top layer."""
    w = net.weights.get(layer["name"])
    if not w:
        return []
    suffix = "" if net.k3 else ":0"
    if isinstance(w, tuple):  # a nested model: its layers' weights
        sub = w[1]
        tr, ntr = [], []
        for l in sub.layers:
            for var, arr in sub.weights.get(l["name"], []):
                dst = ntr if var.startswith("moving_") else tr
                dst.append(("%s/%s%s" % (l["name"], var, suffix), arr))
        return tr + ntr
    tr = [(v, a) for v, a in w if not v.startswith("moving_")]
    ntr = [(v, a) for v, a in w if v.startswith("moving_")]
    return [("%s/%s%s" % (layer["name"], v, suffix), a) for v, a in tr + ntr]


def write_h5(path, net, truncate_weights=None, fixed_strings=False):
    """Keras's attribute writes. With h5py 3 (Debian 12's) bytes and lists
    of bytes become variable-length strings; `fixed_strings` stores them
    as numpy fixed-length bytes instead, as files saved with h5py 2.x have."""
    model_config = {"class_name": "Functional", "config": net.config()}
    fx = (lambda v: np.asarray(v)) if fixed_strings else (lambda v: v)
    with h5py.File(path, "w") as f:
        # model_metadata: str values (variable-length) and the config as
        # JSON bytes (fixed-length), as `f.attrs[k] = v` stores them.
        f.attrs["keras_version"] = "3.3.3" if net.k3 else "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = fx(json.dumps(model_config).encode("utf8"))
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = fx([l["name"].encode("utf8") for l in net.layers])
        mw.attrs["backend"] = fx(b"tensorflow")
        mw.attrs["keras_version"] = fx(b"3.3.3" if net.k3 else b"2.15.0")
        for layer in sorted(net.layers, key=lambda l: l["name"]):
            g = mw.create_group(layer["name"])
            wl = weight_list(net, layer)
            if truncate_weights:
                wl = truncate_weights(layer["name"], wl)
            names = [n.encode("utf8") for n, _ in wl]
            g.attrs["weight_names"] = fx(names) if names else []
            for name, arr in wl:
                d = g.create_dataset(name, arr.shape, dtype=arr.dtype)
                d[...] = arr
        if net.k3:
            g = mw.create_group("top_level_model_weights")
            g.attrs["weight_names"] = []


# ---- The numpy interpreter (independent of the C code) ----

def same_pad(n, k, s, d=1):
    ek = (k - 1) * d + 1
    out = -(-n // s)
    total = max((out - 1) * s + ek - n, 0)
    return out, total // 2, total - total // 2


def window_view(x, k, s, d, padding, fill):
    h, w, c = x.shape
    if padding == "same":
        oh, pt, pb = same_pad(h, k[0], s[0], d[0])
        ow, pl, pr = same_pad(w, k[1], s[1], d[1])
    else:
        oh = (h - (k[0] - 1) * d[0] - 1) // s[0] + 1
        ow = (w - (k[1] - 1) * d[1] - 1) // s[1] + 1
        pt = pb = pl = pr = 0
    xp = np.full((h + pt + pb, w + pl + pr, c), fill, dtype=np.float64)
    xp[pt:pt + h, pl:pl + w] = x
    patches = np.empty((oh, ow, k[0], k[1], c))
    for ky in range(k[0]):
        for kx in range(k[1]):
            ys, xs = ky * d[0], kx * d[1]
            patches[:, :, ky, kx] = xp[ys:ys + (oh - 1) * s[0] + 1:s[0],
                                       xs:xs + (ow - 1) * s[1] + 1:s[1]]
    return patches


def activation(x, a):
    if a in (None, "linear"):
        return x
    if a == "relu":
        return np.maximum(x, 0)
    if a == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if a == "tanh":
        return np.tanh(x)
    if a == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(a)


def run_layer(cls, cfg, w, x):
    x = np.asarray(x, dtype=np.float64)
    if cls == "Conv2D":
        k = w["kernel"].astype(np.float64)
        p = window_view(x, cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"],
                        cfg["padding"], 0.0)
        y = np.tensordot(p, k, axes=([2, 3, 4], [0, 1, 2]))
        if cfg["use_bias"]:
            y = y + w["bias"]
        return activation(y, cfg["activation"])
    if cls == "DepthwiseConv2D":
        k = w["depthwise_kernel"].astype(np.float64)
        p = window_view(x, cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"],
                        cfg["padding"], 0.0)
        y = np.einsum("hwijc,ijcm->hwcm", p, k).reshape(p.shape[0], p.shape[1], -1)
        if cfg["use_bias"]:
            y = y + w["bias"]
        return activation(y, cfg["activation"])
    if cls == "Dense":
        y = x @ w["kernel"].astype(np.float64)
        if cfg["use_bias"]:
            y = y + w["bias"]
        return activation(y, cfg["activation"])
    if cls == "MaxPooling2D":
        p = window_view(x, cfg["pool_size"], cfg["strides"], [1, 1], cfg["padding"], -np.inf)
        return p.max(axis=(2, 3))
    if cls == "AveragePooling2D":
        p = window_view(x, cfg["pool_size"], cfg["strides"], [1, 1], cfg["padding"], np.nan)
        return np.nanmean(p, axis=(2, 3))  # padded cells do not count (TF)
    if cls == "GlobalMaxPooling2D":
        return x.max(axis=(0, 1))
    if cls == "GlobalAveragePooling2D":
        return x.mean(axis=(0, 1))
    if cls == "Flatten":
        return x.reshape(-1)
    if cls == "BatchNormalization":
        y = (x - w["moving_mean"]) / np.sqrt(w["moving_variance"].astype(np.float64) + cfg["epsilon"])
        if cfg["scale"]:
            y = y * w["gamma"]
        if cfg["center"]:
            y = y + w["beta"]
        return y
    if cls == "Activation":
        return activation(x, cfg["activation"])
    if cls == "ReLU":
        mx, sl, th = cfg["max_value"], cfg["negative_slope"], cfg["threshold"]
        y = np.where(x >= th, x, sl * (x - th))
        return np.minimum(y, mx) if mx is not None else y
    if cls == "ZeroPadding2D":
        (t, b), (l, r) = cfg["padding"]
        return np.pad(x, ((t, b), (l, r), (0, 0)))
    if cls == "Dropout":
        return x
    raise ValueError(cls)


def run_graph(cfg, weights_of, inputs):
    """cfg: a Functional config; weights_of(layer name) -> {var: array}.
    Every layer is called once in the fixtures, so references resolve by
    layer name. Values are rounded to float32 between layers, as the C
    code stores them."""
    vals = {}
    for name, x in zip([i[0] for i in cfg["input_layers"]], inputs):
        vals[name] = [x.astype(np.float32)]
    pending = [l for l in cfg["layers"] if l["class_name"] != "InputLayer"]
    while pending:
        rest = []
        for l in pending:
            srcs = []
            for node in l["inbound_nodes"]:
                if isinstance(node, dict):
                    for a in node["args"]:
                        h = a["config"]["keras_history"]
                        srcs.append((h[0], h[2]))
                else:
                    srcs.extend((r[0], r[2]) for r in node)
            if not all(s[0] in vals for s in srcs):
                rest.append(l)
                continue
            xs = [vals[s][t] for s, t in srcs]
            if l["class_name"] == "Functional":
                sub = l["config"]
                outs = run_graph(sub, weights_of, xs)
            else:
                y = run_layer(l["class_name"], l["config"], weights_of(l["name"]), xs[0])
                outs = [np.asarray(y).astype(np.float32)]
            vals[l["name"]] = outs
        if len(rest) == len(pending):
            raise ValueError("unresolvable graph")
        pending = rest
    return [vals[o[0]][o[2]] for o in cfg["output_layers"]]


def text(v):
    return v.decode("utf8") if hasattr(v, "decode") else v


def run_h5(path, inputs):
    """Runs a Keras-layout .h5 (either version) with the numpy interpreter."""
    with h5py.File(path, "r") as f:
        mc = f.attrs["model_config"]
        mc = json.loads(text(mc))
        weights = {}
        mw = f["model_weights"]
        for lname in mw.attrs["layer_names"]:
            lname = text(lname)
            g = mw[lname]
            for wn in g.attrs["weight_names"]:
                wn = text(wn)
                parts = wn.split("/")
                layer, var = parts[-2], parts[-1].split(":")[0]
                weights.setdefault(layer, {})[var] = np.asarray(g[wn])
    return run_graph(mc["config"], lambda n: weights.get(n, {}), inputs)


# ---- Fixture set ----

def write_expected(path, h5name, shapes, outs):
    doc = {"magic": MAGIC, "version": VERSION, "file": h5name,
           "input": {"shapes": [list(s) for s in shapes],
                     "formula": "((y*31 + x*17 + c*7) % 256) / 255, as float32"},
           "tolerance": {"abs": 1e-5, "rel": 1e-4},
           "outputs": [{"shape": list(o.shape), "data": [float(v) for v in o.reshape(-1)]}
                       for o in outs]}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "h5")
    os.makedirs(out, exist_ok=True)
    models = [("k2_facetracker", facetracker_tiny(False, 1)),
              ("k3_facetracker", facetracker_tiny(True, 1)),
              ("k2_mixed", mixed(False, 2)),
              ("k3_mixed", mixed(True, 2))]
    for name, (net, shapes) in models:
        p = os.path.join(out, name + ".h5")
        write_h5(p, net, fixed_strings=(name == "k2_mixed"))
        outs = run_h5(p, [test_input(*s) for s in shapes])
        write_expected(os.path.join(out, name + ".expected.json"), name + ".h5", shapes, outs)

    # Broken and foreign files (all from the small mixed model).
    net, _ = mixed(False, 2)
    bad = json.loads(json.dumps(net.layers[2]))
    bad["class_name"] = "Conv2DTranspose"
    unsup = mixed(False, 2)[0]
    unsup.layers[2] = bad
    write_h5(os.path.join(out, "bad_unsupported_layer.h5"), unsup)

    def wrong_shape(layer, wl):
        if layer == "conv2d":
            return [(n, a[:, :, :, :5]) if n.endswith("kernel:0") else (n, a) for n, a in wl]
        return wl
    write_h5(os.path.join(out, "bad_wrong_shape.h5"), mixed(False, 2)[0], wrong_shape)

    def wrong_dtype(layer, wl):
        if layer == "dense":
            return [(n, a.astype(np.int32)) if n.endswith("kernel:0") else (n, a) for n, a in wl]
        return wl
    write_h5(os.path.join(out, "bad_wrong_dtype.h5"), mixed(False, 2)[0], wrong_dtype)

    def missing_bias(layer, wl):
        return [(n, a) for n, a in wl if not (layer == "dense_1" and "bias" in n)]
    write_h5(os.path.join(out, "bad_missing_weight.h5"), mixed(False, 2)[0], missing_bias)

    with h5py.File(os.path.join(out, "bad_foreign.h5"), "w") as f:
        f.attrs["creator"] = "not keras"
        f.create_dataset("data", data=np.arange(10, dtype=np.float32))
    # A weights-only file (model.save_weights): layer groups, no model_config.
    with h5py.File(os.path.join(out, "bad_weights_only.h5"), "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        g = f.create_group("dense")
        g.attrs["weight_names"] = [b"dense/kernel:0"]
        g.create_dataset("dense/kernel:0", data=np.zeros((2, 2), np.float32))
    with open(os.path.join(out, "k2_mixed.h5"), "rb") as f:
        data = f.read()
    with open(os.path.join(out, "bad_truncated.h5"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(os.path.join(out, "bad_not_hdf5.h5"), "w") as f:
        f.write("this is not an HDF5 file\n")


if __name__ == "__main__":
    main()
