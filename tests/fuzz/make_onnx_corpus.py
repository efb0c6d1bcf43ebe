#!/usr/bin/python3
"""Small ONNX models for the ONNX reader's tests and fuzz seeds.

Writes, with a protobuf encoder of its own (no onnx package needed):
  tests/data/onnx/<name>.onnx           the models (every op the engine maps,
                                         explicit pads, BatchNormalization
                                         to fold, packed and unpacked fields,
                                         int32/int64/double tensors, and
                                         models the engine must refuse);
  tests/data/onnx/<name>.expected.txt   for the runnable ones: the outputs of
                                         OpenCV 4.6 cv2.dnn (Debian
                                         python3-opencv) on a fixed input,
                                         the independent reference;
  tests/fuzz/corpus/onnx/<name>         fuzz seeds: an options byte (bit 0
                                         tight limits, bit 1 prepare the net,
                                         bit 2 also run it) + the model.
Usage: tests/fuzz/make_onnx_corpus.py   (rerun only when adding models)
"""
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
DATA = os.path.join(TESTS, "data", "onnx")
CORPUS = os.path.join(HERE, "corpus", "onnx")


# ---- protobuf wire format ----
def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wt):
    return varint(field << 3 | wt)


def f_int(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return key(field, 2) + varint(len(b)) + b


def f_float(field, v):
    return key(field, 5) + struct.pack("<f", v)


def packed_ints(field, vals):
    return f_bytes(field, b"".join(varint(v) for v in vals))


# ---- ONNX messages ----
def tensor(name, arr, dtype="float", raw=True, packed=True):
    arr = np.asarray(arr)
    msg = b""
    dims = list(arr.shape)
    msg += packed_ints(1, dims) if packed else b"".join(f_int(1, d) for d in dims)
    code = {"float": 1, "int32": 6, "int64": 7, "double": 11}[dtype]
    msg += f_int(2, code)
    flat = arr.reshape(-1)
    if raw:
        np_t = {"float": "<f4", "int32": "<i4", "int64": "<i8", "double": "<f8"}[dtype]
        msg += f_bytes(9, flat.astype(np_t).tobytes())
    elif dtype == "float":
        if packed:
            msg += f_bytes(4, flat.astype("<f4").tobytes())
        else:
            msg += b"".join(f_float(4, float(v)) for v in flat)
    elif dtype == "double":
        msg += f_bytes(10, flat.astype("<f8").tobytes())
    elif dtype == "int32":
        msg += packed_ints(5, [int(v) for v in flat])
    else:
        msg += packed_ints(7, [int(v) for v in flat]) if packed else \
            b"".join(f_int(7, int(v)) for v in flat)
    msg += f_bytes(8, name)
    return msg


def attr(name, v):
    m = f_bytes(1, name)
    if isinstance(v, float):
        return m + f_float(2, v) + f_int(20, 1)
    if isinstance(v, int):
        return m + f_int(3, v) + f_int(20, 2)
    if isinstance(v, str):
        return m + f_bytes(4, v) + f_int(20, 3)
    if isinstance(v, list) and all(isinstance(x, int) for x in v):
        return m + packed_ints(8, v) + f_int(20, 7)
    if isinstance(v, list):
        return m + f_bytes(7, struct.pack("<%df" % len(v), *v)) + f_int(20, 6)
    if isinstance(v, bytes):  # a TensorProto
        return m + f_bytes(5, v) + f_int(20, 4)
    raise TypeError(v)


def node(op, ins, outs, name, **attrs):
    m = b"".join(f_bytes(1, i) for i in ins) + b"".join(f_bytes(2, o) for o in outs)
    m += f_bytes(3, name) + f_bytes(4, op)
    for k, v in attrs.items():
        m += f_bytes(5, attr(k, v))
    return m


def value(name, dims, elem=1):
    dm = b"".join(f_bytes(1, f_bytes(2, d) if isinstance(d, str) else f_int(1, d)) for d in dims)
    tt = f_int(1, elem) + f_bytes(2, dm)
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, tt))


def model(nodes, inits, inputs, outputs, opset=11):
    g = b"".join(f_bytes(1, n) for n in nodes) + f_bytes(2, "g")
    g += b"".join(f_bytes(5, t) for t in inits)
    g += b"".join(f_bytes(11, v) for v in inputs) + b"".join(f_bytes(12, v) for v in outputs)
    return (f_int(1, 6) + f_bytes(2, "make_onnx_corpus") + f_bytes(3, "1") + f_bytes(7, g) +
            f_bytes(8, f_bytes(1, "") + f_int(2, opset)))


rng = np.random.default_rng(11)


def w(*shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def models():
    out = {}
    # Conv with explicit stride-2 pads (not TF SAME), BN folded, Relu fused;
    # a depthwise conv (group == channels) with SAME-equivalent pads, Clip
    # 0..6 (attribute form, opset 6: OpenCV 4.6 reads no other), MaxPool.
    bn = [tensor("g", w(4) + 1), tensor("b", w(4)), tensor("m", w(4)),
          tensor("v", np.abs(w(4)) + 0.5)]
    out["conv_bn_dw"] = (model(
        [node("Conv", ["x", "w0", "b0"], ["c0"], "conv0", kernel_shape=[3, 3], strides=[2, 2],
              pads=[1, 1, 1, 1], dilations=[1, 1], group=1),
         node("BatchNormalization", ["c0", "g", "b", "m", "v"], ["bn0"], "bn0", epsilon=1e-3),
         node("Relu", ["bn0"], ["r0"], "relu0"),
         node("Conv", ["r0", "w1"], ["c1"], "dw1", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
              group=4),
         node("Clip", ["c1"], ["k1"], "clip1", min=0.0, max=6.0),
         node("MaxPool", ["k1"], ["y"], "pool", kernel_shape=[2, 2], strides=[2, 2])],
        [tensor("w0", w(4, 3, 3, 3)), tensor("b0", w(4), raw=False, packed=False)] + bn +
        [tensor("w1", w(4, 1, 3, 3), raw=False)],
        [value("x", [1, 3, "H", "W"])], [value("y", [1, 4, "h", "w"])], opset=6), (1, 3, 18, 22))
    # YuNet's neck and head shapes: 1x1 conv, nearest Resize x2 (asymmetric,
    # floor) of a stride-2 map added to a skip, Transpose + Reshape +
    # Sigmoid heads, a channel Concat, GlobalAveragePool + Flatten.
    out["heads"] = (model(
        [node("Conv", ["x", "wa"], ["a"], "conv_a", kernel_shape=[1, 1]),
         node("Conv", ["a", "wb", "bb"], ["b"], "conv_b", kernel_shape=[3, 3], strides=[2, 2],
              pads=[0, 0, 1, 1]),
         node("Resize", ["b", "roi", "sc"], ["up"], "resize", mode="nearest",
              coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
         node("Add", ["a", "up"], ["s"], "add"),
         node("Transpose", ["s"], ["t"], "transpose", perm=[0, 2, 3, 1]),
         node("Reshape", ["t", "shape"], ["rs"], "reshape"),
         node("Sigmoid", ["rs"], ["cls"], "sigmoid"),
         node("Concat", ["a", "s"], ["cat"], "concat", axis=1),
         node("GlobalAveragePool", ["cat"], ["gap"], "gap"),
         node("Flatten", ["gap"], ["vec"], "flatten", axis=1)],
        [tensor("wa", w(6, 3, 1, 1)), tensor("wb", w(6, 6, 3, 3)), tensor("bb", w(6)),
         tensor("roi", np.zeros(0, np.float32)),
         tensor("sc", np.array([1, 1, 2, 2], np.float32)),
         tensor("shape", np.array([1, -1, 6], np.int64), "int64", raw=False, packed=False)],
        [value("x", [1, 3, "H", "W"])], [value("cls", [1, "n", 6]), value("vec", [1, 12])]),
        (1, 3, 16, 20))
    # Upsample (opset 9, scales input), LeakyRelu 0.1, AveragePool,
    # Identity, a Constant node, a Transpose that needs a real copy, and a
    # map output (NCHW written back).
    out["upsample_misc"] = (model(
        [node("Constant", [], ["scales"], "const_scales",
              value=tensor("cs", np.array([1, 1, 2, 2], np.float32))),
         node("Upsample", ["x", "scales"], ["u"], "upsample", mode="nearest"),
         node("LeakyRelu", ["u"], ["l"], "leaky", alpha=0.1),
         node("AveragePool", ["l"], ["p"], "avgpool", kernel_shape=[2, 2], strides=[2, 2]),
         node("Identity", ["p"], ["y"], "identity"),
         node("Transpose", ["p"], ["z"], "transpose", perm=[0, 3, 2, 1])],
        [], [value("x", [1, 3, 8, 10])], [value("y", [1, 3, 8, 10]), value("z", [1, 10, 8, 3])],
        opset=9), (1, 3, 8, 10))
    # Refused by the engine (parsed fine): an op it does not map, an
    # attribute it does not support, a grouped (not depthwise) conv.
    out["unsupported_op"] = (model(
        [node("Softmax", ["x"], ["y"], "softmax_1", axis=1)], [],
        [value("x", [1, 3, 4, 4])], [value("y", [1, 3, 4, 4])]), None)
    out["unsupported_dilation"] = (model(
        [node("Conv", ["x", "w"], ["y"], "dilated", kernel_shape=[3, 3], dilations=[2, 2])],
        [tensor("w", w(2, 3, 3, 3))], [value("x", [1, 3, 8, 8])], [value("y", [1, 2, 4, 4])]),
        None)
    out["unsupported_group"] = (model(
        [node("Conv", ["x", "w"], ["y"], "grouped", kernel_shape=[1, 1], group=2)],
        [tensor("w", w(4, 2, 1, 1))], [value("x", [1, 4, 8, 8])], [value("y", [1, 4, 8, 8])]),
        None)
    # Tensor types the reader converts (int32, double) and an external one.
    ext = (packed_ints(1, [2]) + f_int(2, 1) + f_bytes(8, "ext") + f_int(14, 1) +
           f_bytes(13, f_bytes(1, "location") + f_bytes(2, "weights.bin")))
    out["tensor_types"] = (model(
        [node("Relu", ["x"], ["y"], "relu")],
        [tensor("i32", np.array([-3, 7, 2**31 - 1], np.int32), "int32", raw=False),
         tensor("f64", np.array([0.5, -1.25], np.float64), "double", raw=False),
         tensor("i64raw", np.array([-1, 2**40], np.int64), "int64"), ext],
        [value("x", [1, 1, 2, 2])], [value("y", [1, 1, 2, 2])]), None)
    return out


def main():
    import cv2  # python3-opencv
    os.makedirs(DATA, exist_ok=True)
    os.makedirs(CORPUS, exist_ok=True)
    for name, (blob, in_shape) in models().items():
        with open(os.path.join(DATA, name + ".onnx"), "wb") as f:
            f.write(blob)
        for opt in ((6, 7) if in_shape else (2, 3)):
            with open(os.path.join(CORPUS, "%s_%d" % (name, opt)), "wb") as f:
                f.write(bytes([opt]) + blob)
        if not in_shape:
            continue
        x = (np.arange(np.prod(in_shape)) % 23 - 11).astype(np.float32).reshape(in_shape) / 4
        net = cv2.dnn.readNetFromONNX(os.path.join(DATA, name + ".onnx"))
        net.setInput(x)
        names = net.getUnconnectedOutLayersNames()
        outs = net.forward(names)
        lines = ["# facetracker-onnx-expected 1",
                 "# OpenCV %s cv2.dnn on %s.onnx; input x[i] = ((i mod 23) - 11) / 4, NCHW"
                 % (cv2.__version__, name),
                 "input %s" % " ".join(str(d) for d in in_shape)]
        for n, o in sorted(zip(names, outs)):
            o = np.asarray(o, np.float32)
            lines.append("output %s %d %s" % (n, o.ndim, " ".join(str(d) for d in o.shape)))
            lines.append(" ".join("%.9g" % v for v in o.reshape(-1)))
        with open(os.path.join(DATA, name + ".expected.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(name, [(n, np.asarray(o).shape) for n, o in zip(names, outs)])


if __name__ == "__main__":
    main()
