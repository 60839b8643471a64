"""Reference values for libbyol's augmenter (tests/unit/test_augment.c).

    /usr/bin/python3 tests/ref/gen_augment_fixtures.py           # rewrite the fixtures
    /usr/bin/python3 tests/ref/gen_augment_fixtures.py --check   # compare, write nothing

Writes tests/fixtures/augment/{color,blur,resize,crop,pipeline}.safetensors.

Every operation is computed here from the reference specification
(DeepMind's byol/utils/augmentations.py and dataset.py; TensorFlow's
resize kernels), in float64 numpy, written
independently of the C code, and checked against a second source where one
exists:
  * RGB -> HSV: against Python's colorsys;
  * torchvision-mode jitter: brightness and hue ARE torchvision's own
    functional adjust_* on float tensors; contrast and saturation use PIL's
    luma weights 0.299/0.587/0.114 (what ColorJitter on PIL images does),
    and the same formula with torchvision's tensor weights 0.2989 is checked
    against torchvision's adjust_contrast / adjust_saturation;
    the 0.299 luma is checked against PIL's convert("L");
  * blur: a direct 2-D convolution with zero padding (not separable);
  * resize: TensorFlow is not installed here, so the bicubic of
    tf.image.resize (Keys a = -0.5, TF's 1024-entry table, zero weight for
    taps outside the image then renormalised) is written out below; the same
    code with torch's settings (a = -0.75, exact weights, clamped edge taps)
    is checked against torch.nn.functional.interpolate(bicubic,
    align_corners=False), and the bilinear against interpolate(bilinear,
    align_corners=False, antialias=False);
  * crop geometry: DM's _decode_and_random_crop and torchvision's
    RandomResizedCrop.get_params, fed the same uniforms the C code takes.

Deterministic (numpy seed 20240607): re-running gives identical files.
"""

import argparse
import colorsys
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "augment")
F32 = np.float32
TF_LUMA = (0.2989, 0.5870, 0.1140)
PIL_LUMA = (0.299, 0.587, 0.114)
CROP_TRIES = 10
CROP_UNIFORMS = 2 * CROP_TRIES + 2

# ---- colour (DM augmentations.py, TF semantics) ------------------------------------


def rgb_to_hsv(r, g, b):
    v = np.maximum(np.maximum(r, g), b)
    rng = v - np.minimum(np.minimum(r, g), b)
    s = np.where(v > 0, rng / np.where(v > 0, v, 1), 0.0)
    norm = np.where(rng != 0, 1.0 / (6.0 * np.where(rng != 0, rng, 1)), 1e9)
    hr = norm * (g - b)
    hg = norm * (b - r) + 2.0 / 6.0
    hb = norm * (r - g) + 4.0 / 6.0
    h = np.where(r == v, hr, np.where(g == v, hg, hb))
    h = h * (rng > 0)
    h = h + (h < 0)
    return h, s, v


def hsv_to_rgb(h, s, v):
    c = s * v
    m = v - c
    dh = np.mod(h, 1.0) * 6.0
    x = c * (1 - np.abs(np.mod(dh, 2.0) - 1))
    k = np.floor(dh).astype(np.int64)
    r = np.where((k == 0) | (k == 5), c, np.where((k == 1) | (k == 4), x, 0)) + m
    g = np.where((k == 1) | (k == 2), c, np.where((k == 0) | (k == 3), x, 0)) + m
    b = np.where((k == 3) | (k == 4), c, np.where((k == 2) | (k == 5), x, 0)) + m
    return r, g, b


def clip(x):
    return np.clip(x, 0.0, 1.0)


def luma(x, w):
    return w[0] * x[0] + w[1] * x[1] + w[2] * x[2]


def tf_op(x, op, value):
    """x [c, h, w] float64 in [0, 1]; DM's op then a clip."""
    if op == "brightness":
        return clip(x + value)
    if op == "contrast":
        m = x.mean(axis=(1, 2), keepdims=True)
        return clip(value * (x - m) + m)
    h, s, v = rgb_to_hsv(x[0], x[1], x[2])
    if op == "saturation":
        s = np.clip(s * value, 0.0, 1.0)
    else:
        h = np.mod(h + value, 1.0)
    return clip(np.stack(hsv_to_rgb(h, s, v)))


def tv_op(x, op, value, w=PIL_LUMA):
    """torchvision ColorJitter semantics in float with luma weights w."""
    if op == "brightness":
        return clip(value * x)
    if op == "contrast":
        m = (x[0] if x.shape[0] == 1 else luma(x, w)).mean()
        return clip(value * x + (1 - value) * m)
    if op == "saturation":
        return clip(value * x + (1 - value) * luma(x, w)[None])
    h, s, v = rgb_to_hsv(x[0], x[1], x[2])
    return clip(np.stack(hsv_to_rgb(np.mod(h + value, 1.0), s, v)))


def grayscale(x, w):
    return np.repeat(clip(luma(x, w))[None], 3, axis=0)


def check_hsv_against_colorsys(rgb):
    h, s, v = rgb_to_hsv(rgb[:, 0], rgb[:, 1], rgb[:, 2])
    for i, (r, g, b) in enumerate(rgb.astype(np.float64)):
        want = colorsys.rgb_to_hsv(r, g, b)
        got = (h[i], s[i], v[i])
        assert np.allclose(got, want, atol=1e-12), (i, got, want)


def check_tv_against_torchvision(x):
    import torch
    import torchvision.transforms.functional as TF
    from PIL import Image

    t = torch.from_numpy(x.astype(F32))
    x32 = x.astype(F32).astype(np.float64)
    for op, fn, val in (("contrast", TF.adjust_contrast, 0.7),
                        ("saturation", TF.adjust_saturation, 1.3)):
        want = fn(t, val).double().numpy()
        got = tv_op(x32, op, val, w=TF_LUMA)
        assert np.abs(got - want).max() < 2e-6, (op, np.abs(got - want).max())
    u8 = (x.transpose(1, 2, 0) * 255).round().astype(np.uint8)
    pil_l = np.asarray(Image.fromarray(u8).convert("L"), dtype=np.float64)
    ours = luma(u8.transpose(2, 0, 1).astype(np.float64), PIL_LUMA)
    assert np.abs(pil_l - ours).max() <= 0.5 + 1e-9, np.abs(pil_l - ours).max()


def torchvision_op(x, op, value):
    """torchvision's own functional op on a float tensor (brightness, hue)."""
    import torch
    import torchvision.transforms.functional as TF
    fn = {"brightness": TF.adjust_brightness, "hue": TF.adjust_hue}[op]
    return fn(torch.from_numpy(x.astype(F32)), value).double().numpy()


def color_fixture(rs):
    rgb = rs.random((60, 3)).astype(F32)
    special = np.array([[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0],
                        [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1], [0.2, 0.2, 0.7],
                        [0.9, 0.3, 0.3], [0.3, 0.9, 0.9]], dtype=F32)
    rgb = np.concatenate([rgb, special])
    check_hsv_against_colorsys(rgb)
    r64 = rgb.astype(np.float64)
    h, s, v = rgb_to_hsv(r64[:, 0], r64[:, 1], r64[:, 2])
    hsv = np.stack([h, s, v], axis=1)
    back = np.stack(hsv_to_rgb(h, s, v), axis=1)
    assert np.abs(back - r64).max() < 1e-12
    out = {"rgb": rgb, "hsv": hsv.astype(F32)}

    x = rs.random((3, 6, 5)).astype(F32)
    x[:, 0, 0] = (0.0, 0.0, 0.0)
    x[:, 0, 1] = (1.0, 1.0, 1.0)
    x[:, 1, 1] = (0.4, 0.4, 0.4)
    check_tv_against_torchvision(x.astype(np.float64))
    x64 = x.astype(np.float64)
    out["image"] = x
    out["image1"] = x[:1].copy()
    cases = [("tf", "brightness", 0.27), ("tf", "brightness", -0.35),
             ("tf", "contrast", 0.63), ("tf", "contrast", 1.37),
             ("tf", "saturation", 0.83), ("tf", "saturation", 1.18),
             ("tf", "hue", 0.07), ("tf", "hue", -0.093),
             ("torchvision", "brightness", 1.3), ("torchvision", "brightness", 0.62),
             ("torchvision", "contrast", 0.7), ("torchvision", "contrast", 1.35),
             ("torchvision", "saturation", 1.2), ("torchvision", "saturation", 0.8),
             ("torchvision", "hue", -0.08), ("torchvision", "hue", 0.045)]
    for i, (mode, op, val) in enumerate(cases):
        if mode == "tf":
            y = tf_op(x64, op, val)
        elif op in ("brightness", "hue"):
            y = torchvision_op(x64, op, val)
        else:
            y = tv_op(x64, op, val)
        out[f"op{i}.{mode}.{op}"] = y.astype(F32)
        out[f"op{i}.value"] = np.array(val, dtype=np.float64)
    # One channel: brightness and contrast only (saturation, hue, gray are skipped).
    x1 = x64[:1]
    out["one.tf.brightness"] = tf_op(x1, "brightness", 0.2).astype(F32)
    out["one.tf.contrast"] = tf_op(x1, "contrast", 1.3).astype(F32)
    out["one.torchvision.brightness"] = tv_op(x1, "brightness", 0.7).astype(F32)
    out["one.torchvision.contrast"] = tv_op(x1, "contrast", 0.6).astype(F32)
    out["gray.tf"] = grayscale(x64, TF_LUMA).astype(F32)
    out["gray.torchvision"] = grayscale(x64, PIL_LUMA).astype(F32)
    meta = {"cases": ";".join(f"op{i}={m}.{o}" for i, (m, o, _) in enumerate(cases))}
    return out, meta


# ---- blur and solarise (DM _gaussian_blur_single_image, _solarize) ----------------


def dm_taps(size):
    kernel_size = size / 10
    radius = int(kernel_size / 2)
    return 2 * radius + 1


def blur_kernel(sigma, taps):
    r = taps // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-x ** 2 / (2 * sigma ** 2))
    return k / k.sum()


def blur_direct(x, sigma, taps):
    """x [c, h, w]: the 2-D Gaussian sum over every tap, zero outside."""
    k = blur_kernel(sigma, taps)
    k2 = np.outer(k, k)
    r = taps // 2
    c, h, w = x.shape
    out = np.zeros_like(x)
    for yy in range(h):
        for xx in range(w):
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    sy, sx = yy + dy, xx + dx
                    if 0 <= sy < h and 0 <= sx < w:
                        out[:, yy, xx] += k2[dy + r, dx + r] * x[:, sy, sx]
    return out


def solarize(x, t):
    return np.where(x < t, x, 1.0 - x)


def blur_fixture(rs):
    out = {}
    sizes = np.array([224, 128, 96, 64, 32, 28, 20, 19, 1], dtype=np.int32)
    out["taps.size"] = sizes
    out["taps.taps"] = np.array([dm_taps(int(s)) for s in sizes], dtype=np.int32)
    cases = [(0.7, 3, (3, 8, 9)), (1.9, 23, (1, 12, 10)), (0.1, 5, (3, 5, 5)),
             (1.3, 7, (3, 9, 11))]
    for i, (sigma, taps, shape) in enumerate(cases):
        x = rs.random(shape).astype(F32)
        out[f"blur{i}.sigma"] = np.array(sigma, dtype=np.float64)
        out[f"blur{i}.kernel"] = blur_kernel(sigma, taps).astype(F32)
        out[f"blur{i}.x"] = x
        out[f"blur{i}.y"] = blur_direct(x.astype(np.float64), sigma, taps).astype(F32)
    s = np.array([0, 0.1, 0.3, 0.49999997, 0.5, 0.50000006, 0.7, 1.0, 0.29999998, 0.3],
                 dtype=F32)
    out["solarize.x"] = s
    out["solarize.y50"] = solarize(s, F32(0.5)).astype(F32)
    out["solarize.y30"] = solarize(s, F32(0.3)).astype(F32)
    return out, {}


# ---- resize (TF ResizeBicubic / ResizeBilinear, half_pixel_centers) ---------------


def source_positions(in_size, out_size, pos):
    """(output index, floor of its half-pixel source position, fraction), in
    float32 as TF computes them (pos=np.float64 as torch does for doubles)."""
    scale = pos(in_size) / pos(out_size)
    for o in range(out_size):
        src = (pos(o) + pos(0.5)) * scale - pos(0.5)
        base = int(np.floor(src))
        yield o, base, float(src - pos(base))


def cubic_taps(in_size, out_size, a=-0.5, table=True, renorm=True, pos=F32):
    """Per output index: 4 source indices and weights."""
    idx = np.zeros((out_size, 4), np.int64)
    wts = np.zeros((out_size, 4), np.float64)
    for o, base, frac in source_positions(in_size, out_size, pos):
        if table:
            off = int(np.rint(F32(frac) * F32(1024)))
            t = off / 1024.0
            tf_ = (1024 - off) / 1024.0
        else:
            t, tf_ = frac, 1.0 - frac
        def near(d):
            return ((a + 2) * d - (a + 3)) * d * d + 1
        def far(d):
            return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        w = np.array([far(t + 1), near(t), near(tf_), far(tf_ + 1)])
        if table:
            w = w.astype(F32).astype(np.float64)
        for k in range(4):
            i = base - 1 + k
            b = min(max(i, 0), in_size - 1)
            idx[o, k] = b
            if renorm and b != i:
                w[k] = 0.0
        if renorm:
            w = w / w.sum()
        wts[o] = w
    return idx, wts


def linear_taps(in_size, out_size, pos=F32):
    idx = np.zeros((out_size, 4), np.int64)
    wts = np.zeros((out_size, 4), np.float64)
    for o, lo, frac in source_positions(in_size, out_size, pos):
        idx[o, :2] = (min(max(lo, 0), in_size - 1), min(max(lo + 1, 0), in_size - 1))
        wts[o, :2] = (1 - frac, frac)
    return idx, wts


def resample(img, taps_y, taps_x):
    """img [h, w, c] float64 -> [c, oh, ow]."""
    (iy, wy), (ix, wx) = taps_y, taps_x
    rows = np.einsum("ok,okwc->owc", wy, img[iy])
    out = np.einsum("pk,opkc->opc", wx, rows[:, ix])
    return out.transpose(2, 0, 1)


def resize(crop, size, interp, pos=F32, **kw):
    h, w = crop.shape[:2]
    if interp == "bilinear":
        return resample(crop, linear_taps(h, size, pos), linear_taps(w, size, pos))
    return resample(crop, cubic_taps(h, size, pos=pos, **kw), cubic_taps(w, size, pos=pos, **kw))


def check_resize_against_torch(img):
    import torch
    import torch.nn.functional as TF
    t = torch.from_numpy(img.transpose(2, 0, 1)[None].astype(np.float64))
    for size in (5, 16, 13):
        want = TF.interpolate(t, size=(size, size), mode="bicubic", align_corners=False)[0]
        got = resize(img, size, "bicubic", a=-0.75, table=False, renorm=False, pos=np.float64)
        assert np.abs(got - want.numpy()).max() < 1e-4, ("bicubic", size)
        want = TF.interpolate(t, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=False)[0]
        got = resize(img, size, "bilinear", pos=np.float64)
        assert np.abs(got - want.numpy()).max() < 1e-4, ("bilinear", size)


def resize_fixture(rs):
    img = rs.integers(0, 256, (11, 13, 3), dtype=np.uint8)
    img1 = rs.integers(0, 256, (7, 9, 1), dtype=np.uint8)
    check_resize_against_torch(img.astype(np.float64))
    out = {"image": img, "image1": img1}
    # (which image, x, y, w, h, size, interp)
    cases = [("image", 2, 1, 7, 9, 16, "bicubic"), ("image", 0, 0, 13, 11, 5, "bicubic"),
             ("image", 3, 2, 4, 4, 4, "bicubic"), ("image", 5, 6, 1, 1, 3, "bicubic"),
             ("image", 1, 0, 12, 3, 7, "bicubic"), ("image1", 0, 0, 9, 7, 20, "bicubic"),
             ("image", 2, 1, 7, 9, 16, "bilinear"), ("image", 0, 0, 13, 11, 5, "bilinear"),
             ("image", 1, 0, 12, 3, 7, "bilinear"), ("image1", 2, 1, 5, 6, 4, "bilinear")]
    for i, (name, x, y, w, h, size, interp) in enumerate(cases):
        src = out[name].astype(np.float64)[y:y + h, x:x + w]
        out[f"case{i}.box"] = np.array([x, y, w, h, size, interp == "bilinear",
                                        name == "image1"], dtype=np.int32)
        out[f"case{i}.out"] = resize(src, size, interp).astype(F32)
    return out, {"box": "x, y, w, h, size, bilinear, one_channel"}


# ---- crop geometry (DM _decode_and_random_crop, torchvision get_params) -------------


def crop_reference(h, w, amin, amax, rmin, rmax, u):
    area = (amin + (amax - amin) * u[0]) * h * w
    ratio = math.exp(math.log(rmin) + (math.log(rmax) - math.log(rmin)) * u[1])
    cw = round(math.sqrt(area * ratio))
    ch = round(math.sqrt(area / ratio))
    cw, ch = max(1, min(cw, w)), max(1, min(ch, h))
    x = int(u[20] * (w - cw + 1))
    y = int(u[21] * (h - ch + 1))
    return x, y, cw, ch


def crop_torchvision(h, w, amin, amax, rmin, rmax, u):
    area = h * w
    for k in range(CROP_TRIES):
        target = area * (amin + (amax - amin) * u[2 * k])
        lr = (math.log(rmin), math.log(rmax))
        ratio = math.exp(lr[0] + (lr[1] - lr[0]) * u[2 * k + 1])
        cw = int(round(math.sqrt(target * ratio)))
        ch = int(round(math.sqrt(target / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            return int(u[20] * (w - cw + 1)), int(u[21] * (h - ch + 1)), cw, ch
    in_ratio = float(w) / float(h)
    if in_ratio < min(rmin, rmax):
        cw = w
        ch = int(round(cw / min(rmin, rmax)))
    elif in_ratio > max(rmin, rmax):
        ch = h
        cw = int(round(ch * max(rmin, rmax)))
    else:
        cw, ch = w, h
    cw, ch = max(1, cw), max(1, ch)
    return (w - cw) // 2, (h - ch) // 2, cw, ch


def center_box(h, w, frac):
    side = max(1, int(frac * min(h, w)))
    return (w - side + 1) // 2, (h - side + 1) // 2, side, side


def crop_fixture(rs):
    params, us, boxes = [], [], []
    def add(mode, h, w, amin, amax, rmin, rmax, u):
        fn = crop_reference if mode == 0 else crop_torchvision
        params.append([mode, h, w, amin, amax, rmin, rmax])
        us.append(u)
        boxes.append(fn(h, w, amin, amax, rmin, rmax, u))
    default = (0.08, 1.0, 0.75, 4.0 / 3.0)
    for mode in (0, 1):
        for (h, w) in ((224, 224), (375, 500), (32, 32), (28, 28), (600, 90), (7, 5)):
            for _ in range(6):
                add(mode, h, w, *default, rs.random(CROP_UNIFORMS))
        # Large areas with extreme ratios: clamped (reference) or retried (torchvision).
        for (h, w) in ((100, 100), (50, 300), (300, 50)):
            u = rs.random(CROP_UNIFORMS)
            u[0:20:2] = 0.99
            add(mode, h, w, 0.5, 1.0, 0.25, 4.0, u)
        # The third try is the first to fit (the first two are too tall).
        u = rs.random(CROP_UNIFORMS)
        u[0], u[1], u[2], u[3], u[4], u[5] = 0.999, 0.999, 0.999, 0.999, 0.1, 0.5
        add(mode, 200, 100, 0.08, 1.0, 0.5, 2.0, u)
        # Every try fails: the fallback's three branches.
        u = rs.random(CROP_UNIFORMS)
        u[0:20:2] = 0.999
        add(mode, 10, 100, 0.9, 1.0, 0.75, 4.0 / 3.0, u)   # wider than the range
        add(mode, 100, 10, 0.9, 1.0, 0.75, 4.0 / 3.0, u)   # taller than the range
        add(mode, 40, 40, 0.9, 1.0, 3.0, 4.0, u)           # ratio range excludes square
        # Tiny area on a tiny image: sides round to 0 and become 1.
        add(mode, 3, 3, 1e-6, 1e-6, 0.75, 4.0 / 3.0, rs.random(CROP_UNIFORMS))
    centers = []
    for (h, w, f) in ((256, 256, 0.875), (375, 500, 0.875), (32, 32, 1.0), (31, 40, 0.875),
                      (9, 4, 0.5), (1, 1, 0.01), (224, 300, 0.875)):
        centers.append([h, w, f, *center_box(h, w, f)])
    out = {"params": np.array(params, np.float64), "u": np.array(us, np.float64),
           "box": np.array(boxes, np.int32), "center": np.array(centers, np.float64)}
    return out, {"params": "mode (0 reference, 1 torchvision), h, w, area_min, area_max, "
                 "ratio_min, ratio_max", "box": "x, y, w, h",
                 "center": "h, w, frac, x, y, w, h"}


# ---- whole pipelines with fixed parameters ------------------------------------------

OPS = ("brightness", "contrast", "saturation", "hue")


def pipeline(img, p, mode, interp, taps, mean_s, std_s, size):
    """img [h, w, c] uint8, p a dict of drawn parameters -> [c, size, size]."""
    x, y, w, h = p["box"]
    crop = img.astype(np.float64)[y:y + h, x:x + w]
    v = clip(resize(crop, size, interp) / 255.0)
    c = v.shape[0]
    if p["flip"]:
        v = v[:, :, ::-1]
    if p["jitter"]:
        for op in p["order"]:
            v = tf_op(v, OPS[op], p["values"][op]) if mode == "tf" else \
                tv_op(v, OPS[op], p["values"][op])
    if p["gray"] and c == 3:
        v = grayscale(v, TF_LUMA if mode == "tf" else PIL_LUMA)
    v = clip(v)
    if p["blur"]:
        v = blur_direct(v, p["sigma"], taps)
    if p["solarize"]:
        near = np.abs(v - p["threshold"]).min()
        assert near > 1e-4, f"a value within {near} of the threshold: pick another case"
        v = solarize(v, p["threshold"])
    return normalise(clip(v), mean_s, std_s)


def params_vector(p):
    order = list(p["order"]) + [0] * (4 - len(p["order"]))
    return np.array([*p["box"], p["flip"], p["jitter"], len(p["order"]), *order,
                     *p["values"], p["gray"], p["blur"], p["sigma"], p["solarize"],
                     p["threshold"]], np.float64)


def floats(text):
    return [float(t) for t in text.split(",")]


def normalise(v, mean_s, std_s):
    m = np.array(floats(mean_s)).reshape(-1, 1, 1)
    s = np.array(floats(std_s)).reshape(-1, 1, 1)
    return (v - m) / s


def pipeline_fixture(rs):
    img = rs.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    img[5:12, 6:14] = (200, 40, 90)          # a flat patch keeps colours saturated
    img1 = rs.integers(0, 256, (18, 15, 1), dtype=np.uint8)
    out = {"image": img, "image1": img1}
    cases = [
        ("tf", "bicubic", 5, "image", dict(
            box=(3, 2, 17, 15), flip=1, jitter=1, order=(2, 0, 3, 1),
            values=(0.13, 1.21, 0.87, -0.06), gray=0, blur=1, sigma=0.9, solarize=1,
            threshold=0.5)),
        ("torchvision", "bilinear", 3, "image", dict(
            box=(0, 4, 24, 12), flip=0, jitter=1, order=(3, 1, 0, 2),
            values=(1.25, 0.8, 1.15, 0.04), gray=1, blur=1, sigma=1.6, solarize=0,
            threshold=0.5)),
        ("tf", "bicubic", 7, "image", dict(
            box=(6, 5, 8, 7), flip=0, jitter=0, order=(0, 1, 2, 3),
            values=(0.3, 1.3, 1.1, 0.05), gray=1, blur=0, sigma=1.0, solarize=1,
            threshold=0.37)),
        ("tf", "bicubic", 5, "image1", dict(
            box=(2, 1, 11, 14), flip=1, jitter=1, order=(1, 0),
            values=(-0.12, 1.3, 1.0, 0.0), gray=1, blur=1, sigma=0.6, solarize=1,
            threshold=0.5)),
    ]
    norms = {3: ("0.485,0.456,0.406", "0.229,0.224,0.225"), 1: ("0.2860", "0.3530")}
    size = 12
    meta = {"params": "x, y, w, h, flip, jitter, nops, order[4], brightness, contrast, "
            "saturation, hue, gray, blur, sigma, solarize, threshold"}
    for i, (mode, interp, taps, name, p) in enumerate(cases):
        c = out[name].shape[2]
        mean_s, std_s = norms[c]
        out[f"case{i}.params"] = params_vector(p)
        out[f"case{i}.out"] = pipeline(out[name], p, mode, interp, taps, mean_s, std_s,
                                       size).astype(F32)
        meta[f"case{i}.image"] = name
        meta[f"case{i}.config"] = (
            f"data.channels={c} augment.size={size} augment.jitter={mode} "
            f"augment.interpolation={interp} augment.blur_taps={taps} "
            f'augment.mean="{mean_s}" augment.std="{std_s}"')
    # Evaluation: DM's centre crop of eval_crop x the shorter side, resized.
    for j, (name, frac, interp) in enumerate((("image", 0.875, "bicubic"),
                                              ("image1", 0.6, "bilinear"))):
        src = out[name]
        c = src.shape[2]
        mean_s, std_s = norms[c]
        x, y, w, h = center_box(src.shape[0], src.shape[1], frac)
        v = clip(resize(src.astype(np.float64)[y:y + h, x:x + w], size, interp) / 255.0)
        out[f"eval{j}.out"] = normalise(v, mean_s, std_s).astype(F32)
        meta[f"eval{j}.image"] = name
        meta[f"eval{j}.config"] = (
            f"data.channels={c} augment.size={size} augment.eval_crop={frac} "
            f"augment.interpolation={interp} augment.mean=\"{mean_s}\" augment.std=\"{std_s}\"")
    return out, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the files, write nothing")
    args = ap.parse_args()
    rs = np.random.default_rng(20240607)
    makers = (("color", color_fixture), ("blur", blur_fixture), ("resize", resize_fixture),
              ("crop", crop_fixture), ("pipeline", pipeline_fixture))
    bad = 0
    os.makedirs(OUT, exist_ok=True)
    for name, fn in makers:
        tensors, meta = fn(rs)
        meta = dict(meta, script="tests/ref/gen_augment_fixtures.py", numpy=np.__version__)
        path = os.path.join(OUT, f"{name}.safetensors")
        blob = st.encode(tensors, meta)
        if args.check:
            same = os.path.exists(path) and open(path, "rb").read() == blob
            print(f"{'same' if same else 'DIFFERENT'} {path}")
            bad += not same
        else:
            with open(path, "wb") as f:
                f.write(blob)
            print(f"wrote {path} ({len(blob)} bytes, {len(tensors)} tensors)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
