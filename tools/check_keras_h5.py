#!/usr/bin/python3
"""Checks that a .h5 written by facetracker (ft_h5_model_save) is an ordinary
Keras file as h5py sees it, following what Keras's legacy h5 loaders read
(tf.keras hdf5_format.py, Keras 3 legacy_h5_format.py):

  * root attributes keras_version, backend, model_config (JSON of a
    Functional model: class_name, config.layers/input_layers/output_layers);
  * /model_weights with layer_names (or layer_names0, 1, ...) equal to the
    config's layer names in order, plus backend and keras_version;
  * one group per layer with weight_names; every listed weight is a float32
    dataset at <layer>/<weight name>, named "<layer>/<var>:0", with the
    shape the layer's config implies (kernel size, filters, units);
  * with --expect FILE.expected.json: the numpy interpreter in
    gen_keras_h5.py run on the written file reproduces the expected outputs.

Usage: /usr/bin/python3 tools/check_keras_h5.py FILE.h5 [--expect JSON] ...
Exit status 0 when every file passes.
"""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_keras_h5 as gen  # noqa: E402


def text(v):
    return v.decode("utf8") if hasattr(v, "decode") else str(v)


def keras_list(attrs, name):
    if name in attrs:
        return [text(n) for n in attrs[name]]
    out, i = [], 0
    while "%s%d" % (name, i) in attrs:
        out.extend(text(n) for n in attrs["%s%d" % (name, i)])
        i += 1
    return out


def check_layer_weights(errors, cls, cfg, weights):
    """weights: {var: shape}. Shapes implied by the config."""
    if cls == "Conv2D":
        k = cfg["kernel_size"]
        ks = weights.get("kernel")
        if ks is None or ks[:2] != tuple(k) or ks[3] != cfg["filters"]:
            errors.append("%s: kernel %s vs config" % (cfg["name"], ks))
        if cfg.get("use_bias", True) and weights.get("bias") != (cfg["filters"],):
            errors.append("%s: bias %s" % (cfg["name"], weights.get("bias")))
    elif cls == "DepthwiseConv2D":
        ks = weights.get("depthwise_kernel")
        if ks is None or ks[:2] != tuple(cfg["kernel_size"]) or ks[3] != cfg["depth_multiplier"]:
            errors.append("%s: depthwise_kernel %s" % (cfg["name"], ks))
    elif cls == "Dense":
        ks = weights.get("kernel")
        if ks is None or ks[1] != cfg["units"]:
            errors.append("%s: kernel %s vs units %s" % (cfg["name"], ks, cfg["units"]))
    elif cls == "BatchNormalization":
        need = ["moving_mean", "moving_variance"]
        need += ["gamma"] if cfg.get("scale", True) else []
        need += ["beta"] if cfg.get("center", True) else []
        if sorted(need) != sorted(weights):
            errors.append("%s: BN weights %s" % (cfg["name"], sorted(weights)))


def check_file(path, expect):
    errors = []
    with h5py.File(path, "r") as f:
        for a in ("keras_version", "backend", "model_config"):
            if a not in f.attrs:
                errors.append("root attribute %s missing" % a)
        if errors:
            return errors
        mc = json.loads(text(f.attrs["model_config"]))
        if mc.get("class_name") not in ("Functional", "Model"):
            errors.append("model_config class_name %r" % mc.get("class_name"))
        cfg = mc["config"]
        for k in ("layers", "input_layers", "output_layers"):
            if k not in cfg:
                errors.append("model_config.config.%s missing" % k)
        mw = f["model_weights"]
        names = keras_list(mw.attrs, "layer_names")
        if names != [l["name"] for l in cfg["layers"]]:
            errors.append("layer_names %s != config layers" % names)
        for a in ("backend", "keras_version"):
            if a not in mw.attrs:
                errors.append("model_weights attribute %s missing" % a)
        by_name = {}

        def index(c):
            for l in c["layers"]:
                by_name[l["name"]] = l
                if l["class_name"] in ("Functional", "Model"):
                    index(l["config"])
        index(cfg)
        for lname in names:
            g = mw[lname]
            if "weight_names" not in g.attrs and "weight_names0" not in g.attrs:
                errors.append("%s: weight_names missing" % lname)
                continue
            per_layer = {}
            for wn in keras_list(g.attrs, "weight_names"):
                if not wn.endswith(":0") or wn.count("/") != 1:
                    errors.append("%s: weight name %r is not <layer>/<var>:0" % (lname, wn))
                if wn not in g or not isinstance(g[wn], h5py.Dataset):
                    errors.append("%s: dataset %s missing" % (lname, wn))
                    continue
                d = g[wn]
                if d.dtype != np.float32:
                    errors.append("%s: %s dtype %s" % (lname, wn, d.dtype))
                owner, var = wn.split("/")[-2], wn.split("/")[-1].split(":")[0]
                per_layer.setdefault(owner, {})[var] = d.shape
            for owner, ws in per_layer.items():
                if owner not in by_name:
                    errors.append("%s: weights for unknown layer %s" % (lname, owner))
                    continue
                l = by_name[owner]
                check_layer_weights(errors, l["class_name"], dict(l["config"], name=owner), ws)
    if expect and not errors:
        with open(expect) as fh:
            doc = json.load(fh)
        ins = [gen.test_input(*s) for s in doc["input"]["shapes"]]
        outs = gen.run_h5(path, ins)
        tol = doc["tolerance"]
        for i, (o, e) in enumerate(zip(outs, doc["outputs"])):
            want = np.asarray(e["data"], dtype=np.float64)
            got = np.asarray(o, dtype=np.float64).reshape(-1)
            if got.shape != want.shape or np.any(np.abs(got - want) > tol["abs"] + tol["rel"] * np.abs(want)):
                errors.append("output %d differs from %s" % (i, expect))
    return errors


def main():
    args = sys.argv[1:]
    bad = 0
    i = 0
    while i < len(args):
        path, expect = args[i], None
        if i + 2 < len(args) + 1 and i + 1 < len(args) and args[i + 1] == "--expect":
            expect = args[i + 2]
            i += 3
        else:
            i += 1
        errs = check_file(path, expect)
        for e in errs:
            print("%s: %s" % (path, e))
        print("%s: %s" % (path, "ok" if not errs else "FAILED"))
        bad |= bool(errs)
    return 1 if bad or not args else 0


if __name__ == "__main__":
    sys.exit(main())
