"""Calibration from a folder of images, the way a user's shell reaches it: ``--representative-data DIR`` on
``liteconvert convert`` (a .keras file and a SavedModel, normalization given by ``--image-norm``) and on
``liteconvert quantize`` (MediaPipe's face detector, normalization read from its TFLite metadata), and in the
quantization report. The photos are scikit-image's bundled ones (real images, fetched from PyPI). The folder
gives exactly the model that the same pixels, decoded and normalized by hand into an .npz, give; every bad
folder is one error line."""

from __future__ import annotations

import os
import sys
import zipfile

import numpy as np
import pytest
from conftest import ROOT, one_error_line, run_cli

from liteconvert.verify import make_interpreter

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, os.path.join(ROOT, "tests", "metadata"))

PHOTOS = ["astronaut", "camera", "chelsea", "coffee", "coins", "horse", "moon", "logo"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of real photos: PNGs and the same pictures as JPEGs (RGB and grayscale, several sizes)."""
    import real_models
    from PIL import Image

    try:
        wheel = real_models.wheel("scikit_image", "0.26.0")
    except real_models.Unavailable as e:
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("photos")
    with zipfile.ZipFile(wheel) as z:
        for name in PHOTOS:
            (d / f"{name}.png").write_bytes(z.read(f"skimage/data/{name}.png"))
            with Image.open(d / f"{name}.png") as im:
                im.convert("RGB").save(d / f"{name}_copy.jpg", quality=90)
    return d


def _by_hand(folder, size: tuple[int, int], channels: int, mean, std) -> np.ndarray:
    """The photos as the documentation says they are read: name order, converted, resized bilinearly, then
    (pixel - mean) / std."""
    from PIL import Image

    out = []
    for name in sorted(os.listdir(folder)):
        with Image.open(folder / name) as im:
            im = im.convert("RGB" if channels == 3 else "L").resize((size[1], size[0]), Image.Resampling.BILINEAR)
            px = np.asarray(im, np.float32).reshape(size[0], size[1], channels)
        out.append((px - np.float32(mean)) / np.float32(std))
    return np.stack(out).astype(np.float32)


@pytest.fixture(scope="module")
def cnn(keras, tmp_path_factory):
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3), name="image")
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    h = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(5, activation="softmax", name="probs")(h)
    model = keras.Model(inp, out)
    d = tmp_path_factory.mktemp("image_cnn")
    model.save(d / "cnn.keras")
    model.export(str(d / "sm"), verbose=False)
    return model, d


@pytest.mark.parametrize("source", ["cnn.keras", "sm"])
def test_folder_of_images_calibrates_as_the_same_pixels_in_an_npz(cnn, photos, source, tmp_path):
    model, d = cnn
    x = _by_hand(photos, (32, 32), 3, 127.5, 127.5)
    np.savez(tmp_path / "same.npz", image=x)
    for name, data in (("folder", [str(photos), "--image-norm", "127.5", "127.5"]),
                       ("npz", [str(tmp_path / "same.npz")])):
        res = run_cli("convert", str(d / source), "-o", str(tmp_path / f"{name}.tflite"), "--quantize", "int8",
                      "--representative-data", *data)
        assert res.returncode == 0, res.stderr
    folder, npz = ((tmp_path / f"{n}.tflite").read_bytes() for n in ("folder", "npz"))
    assert folder == npz  # the same calibration, byte for byte
    interp = make_interpreter(folder)
    runner = interp.get_signature_runner()
    got = np.concatenate([next(iter(runner(image=x[i:i + 1]).values())) for i in range(len(x))])
    assert np.max(np.abs(got - np.asarray(model(x)))) < 0.05


def test_per_channel_normalization_and_the_python_api(cnn, photos, tmp_path):
    """``data.load`` gives the converter the folder too (its representative_dataset), with ImageNet's per-channel
    mean and std."""
    import liteconvert
    from liteconvert.quantize import data, images

    model, _ = cnn
    mean, std = (123.7, 116.3, 103.5), (58.4, 57.1, 57.4)
    x = _by_hand(photos, (32, 32), 3, mean, std)

    def run(dataset):
        conv = liteconvert.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [liteconvert.Optimize.DEFAULT]
        conv.representative_dataset = dataset
        return conv.convert()

    folder = data.load(str(photos), images.parse_norm(["123.7,116.3,103.5", "58.4,57.1,57.4"]))
    assert isinstance(folder, images.ImageFolder) and len(folder.files) == 2 * len(PHOTOS)
    assert run(folder) == run(lambda: ([x[i:i + 1]] for i in range(len(x))))


def test_quantize_a_mediapipe_model_with_the_normalization_its_metadata_records(photos, tmp_path):
    """face_detection_short_range records mean 127.5, std 127.5 for its 128x128 RGB input: the folder needs no
    --image-norm, and the report reads the same folder."""
    from metadata_helpers import google_models

    path = next(p for p in google_models() if p.endswith("face_detection_short_range.tflite"))
    x = _by_hand(photos, (128, 128), 3, 127.5, 127.5)
    np.savez(tmp_path / "same.npz", input=x)
    res = run_cli("quantize", path, "-o", str(tmp_path / "folder.tflite"), "--quantize", "int8",
                  "--representative-data", str(photos))
    assert res.returncode == 0, res.stderr
    res = run_cli("quantize", path, "-o", str(tmp_path / "npz.tflite"), "--quantize", "int8",
                  "--representative-data", str(tmp_path / "same.npz"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "folder.tflite").read_bytes() == (tmp_path / "npz.tflite").read_bytes()
    res = run_cli("quantization-report", path, str(tmp_path / "folder.tflite"), "--representative-data",
                  str(photos), "--json")
    assert res.returncode == 0, res.stderr
    assert '"ops"' in res.stdout
    # int8 costs this detector more than --verify's default 10% on these photos (ai-edge-quantizer's int8 too: its
    # logits' SNR 11.8 dB against our 12.6): the error says what to do, and nothing is written; 16x8 passes
    res = run_cli("quantize", path, "-o", str(tmp_path / "v.tflite"), "--quantize", "int8", "--verify",
                  "--representative-data", str(photos))
    one_error_line(res, 1, "verification failed", "--keep-float-worst", "int16x8")
    assert not (tmp_path / "v.tflite").exists()
    res = run_cli("quantize", path, "-o", str(tmp_path / "v.tflite"), "--quantize", "int16x8", "--verify",
                  "--representative-data", str(photos))
    assert res.returncode == 0 and res.stdout.startswith("verified:"), res.stderr


def test_grayscale_input_takes_the_luminance(keras, photos, tmp_path):
    keras.utils.set_random_seed(1)
    inp = keras.Input((16, 16, 1), name="gray")
    h = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    out = keras.layers.Dense(3)(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    model.save(tmp_path / "g.keras")
    np.savez(tmp_path / "same.npz", gray=_by_hand(photos, (16, 16), 1, 0, 255))
    for name, data in (("folder", [str(photos), "--image-norm", "0", "255"]), ("npz", [str(tmp_path / "same.npz")])):
        res = run_cli("convert", str(tmp_path / "g.keras"), "-o", str(tmp_path / f"{name}.tflite"), "--quantize",
                      "int16x8", "--representative-data", *data)
        assert res.returncode == 0, res.stderr
    assert (tmp_path / "folder.tflite").read_bytes() == (tmp_path / "npz.tflite").read_bytes()


def test_bad_image_folders_are_one_error_each(cnn, photos, keras, tmp_path):
    _, d = cnn
    src = str(d / "cnn.keras")
    out = tmp_path / "out.tflite"

    def convert(*extra: str):
        return run_cli("convert", src, "-o", str(out), "--quantize", "int8", "--representative-data", *extra)

    one_error_line(convert(str(photos)), 2, "normalization", "--image-norm")
    one_error_line(convert(str(photos), "--image-norm", "0", "0"), 2, "STD")
    one_error_line(convert(str(photos), "--image-norm", "a", "1"), 2, "not numbers")
    one_error_line(convert(str(photos), "--image-norm", "0,0", "1"), 2, "2 mean values for 3 channel")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes((photos / "astronaut.png").read_bytes())
    (broken / "b.jpg").write_bytes(b"not a jpeg at all")
    one_error_line(convert(str(broken), "--image-norm", "0", "255"), 2, "b.jpg", "cannot be decoded")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.png").write_bytes((photos / "astronaut.png").read_bytes())
    np.save(mixed / "image.npy", np.zeros((2, 32, 32, 3), np.float32))
    one_error_line(convert(str(mixed), "--image-norm", "0", "255"), 2, "both .npy files and images")
    np.savez(tmp_path / "c.npz", image=np.zeros((2, 32, 32, 3), np.float32))
    one_error_line(convert(str(tmp_path / "c.npz"), "--image-norm", "0", "255"), 2, "folder of images")
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    (fifo / "a.png").write_bytes((photos / "astronaut.png").read_bytes())
    os.mkfifo(fifo / "b.png")  # skipped, never opened: no hang
    res = convert(str(fifo), "--image-norm", "0", "255")
    assert res.returncode == 0, res.stderr
    out.unlink()
    res = run_cli("convert", src, "-o", str(out), "--image-norm", "0", "255")
    one_error_line(res, 2, "--image-norm", "--quantize")

    keras.utils.set_random_seed(0)
    a, b = keras.Input((8, 8, 3), name="a"), keras.Input((8, 8, 3), name="b")
    keras.Model([a, b], keras.layers.Add()([a, b])).save(tmp_path / "two.keras")
    res = run_cli("convert", str(tmp_path / "two.keras"), "-o", str(out), "--quantize", "int8",
                  "--representative-data", str(photos), "--image-norm", "0", "255")
    one_error_line(res, 2, "one input", "takes 2")
    inp = keras.Input((10,), name="vec")
    keras.Model(inp, keras.layers.Dense(2)(inp)).save(tmp_path / "vec.keras")
    res = run_cli("convert", str(tmp_path / "vec.keras"), "-o", str(out), "--quantize", "int8",
                  "--representative-data", str(photos), "--image-norm", "0", "255")
    one_error_line(res, 2, "image input", "[-1, 10]")
    assert not out.exists()


def test_uint8_input_takes_the_pixels_as_they_are(keras, photos, tmp_path):
    keras.utils.set_random_seed(2)
    inp = keras.Input((16, 16, 3), name="pixels", dtype="uint8")
    h = keras.layers.Rescaling(1 / 255)(keras.ops.cast(inp, "float32"))
    out = keras.layers.Dense(3)(keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(h)))
    keras.Model(inp, out).save(tmp_path / "u.keras")
    np.savez(tmp_path / "same.npz", pixels=_by_hand(photos, (16, 16), 3, 0, 1).astype(np.uint8))
    for name, data in (("folder", [str(photos)]), ("npz", [str(tmp_path / "same.npz")])):
        res = run_cli("convert", str(tmp_path / "u.keras"), "-o", str(tmp_path / f"{name}.tflite"), "--quantize",
                      "int8", "--representative-data", *data)
        assert res.returncode == 0, res.stderr
    assert (tmp_path / "folder.tflite").read_bytes() == (tmp_path / "npz.tflite").read_bytes()
    res = run_cli("convert", str(tmp_path / "u.keras"), "-o", str(tmp_path / "x.tflite"), "--quantize", "int8",
                  "--representative-data", str(photos), "--image-norm", "0", "255")
    one_error_line(res, 2, "uint8 pixels")


def test_channels_first_input(keras, photos, tmp_path):
    keras.utils.set_random_seed(4)
    inp = keras.Input((3, 20, 24), name="nchw")
    h = keras.layers.Conv2D(4, 3, activation="relu")(keras.layers.Permute((2, 3, 1))(inp))
    keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(h))).save(tmp_path / "c.keras")
    np.savez(tmp_path / "same.npz", nchw=np.transpose(_by_hand(photos, (20, 24), 3, 0, 255), (0, 3, 1, 2)))
    for name, data in (("folder", [str(photos), "--image-norm", "0", "255"]), ("npz", [str(tmp_path / "same.npz")])):
        res = run_cli("convert", str(tmp_path / "c.keras"), "-o", str(tmp_path / f"{name}.tflite"), "--quantize",
                      "int8", "--representative-data", *data)
        assert res.returncode == 0, res.stderr
    assert (tmp_path / "folder.tflite").read_bytes() == (tmp_path / "npz.tflite").read_bytes()


def test_every_kind_of_image_file(tmp_path):
    """16-bit grayscale is scaled onto 0-255 (not clipped), palette / RGBA / CMYK / 1-bit images convert, a
    floating-point TIFF (scale unknown) and a truncated file are one error each."""
    from PIL import Image

    from liteconvert.errors import InvalidOptionError
    from liteconvert.quantize import data, images

    rng = np.random.default_rng(0)
    rgb = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
    Image.fromarray(np.linspace(0, 65535, 600).reshape(20, 30).astype(np.uint16)).save(tmp_path / "a16.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    Image.fromarray(np.dstack([rgb, rgb[..., :1]]), "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(rng.random((20, 30)) > 0.5).save(tmp_path / "bw.png")
    spec = data.InputSpec("x", (-1, 20, 30, 3), "float32")
    folder = data.load(str(tmp_path), ((0,), (255,)))
    assert isinstance(folder, images.ImageFolder) and len(folder.files) == 5
    got = {name: s[0] for name, s in zip(folder.files, folder.samples(spec), strict=True)}
    assert all(v.shape == (1, 20, 30, 3) and 0 <= v.min() and v.max() <= 1 for v in got.values())
    wide = got["a16.png"][0, ..., 0]
    assert abs(wide.min()) < 1e-6 and abs(wide.max() - 1) < 1e-6 and len(np.unique(wide)) > 200  # not clipped
    Image.fromarray(rng.random((20, 30)).astype(np.float32), "F").save(tmp_path / "f.tif")
    with pytest.raises(InvalidOptionError, match="floating-point pixels"):
        data.load(str(tmp_path), ((0,), (255,))).samples(spec)
    (tmp_path / "f.tif").unlink()
    (tmp_path / "z.png").write_bytes((tmp_path / "rgba.png").read_bytes()[:60])
    with pytest.raises(InvalidOptionError, match=r"z\.png cannot be decoded"):
        data.load(str(tmp_path), ((0,), (255,))).samples(spec)


def test_an_integer_image_input_takes_raw_pixels(photos, tmp_path):
    """MediaPipe Tasks and the TFLite support library feed a uint8 image input the raw pixels (they skip the
    normalization the metadata records). So with an int8 / uint8 interface, an input whose normalization is known
    gets scale 1 / std and zero point mean, whatever range calibration saw: here calibration on dim photos spans
    only a third of the pixel range, which would otherwise give a scale 3x too fine and raw pixels read wrong."""
    from metadata_helpers import google_models

    path = next(p for p in google_models() if p.endswith("face_detection_short_range.tflite"))
    x = _by_hand(photos, (128, 128), 3, 127.5, 127.5) / 3  # pixels in about [85, 170]
    np.savez(tmp_path / "dim.npz", input=x.astype(np.float32))
    for io in ("uint8", "int8"):
        out = tmp_path / f"{io}.tflite"
        res = run_cli("quantize", path, "-o", str(out), "--quantize", "int8", "--io-type", io,
                      "--representative-data", str(tmp_path / "dim.npz"), "-q")
        assert res.returncode == 0, res.stderr
        interp = make_interpreter(out.read_bytes())
        (scale, zero) = interp.get_input_details()[0]["quantization"]
        assert abs(scale - 1 / 127.5) < 1e-7 and zero == (128 if io == "uint8" else 0), (io, scale, zero)
    # an image input of a Keras model, normalized by --image-norm: the same rule
    import keras

    keras.utils.set_random_seed(5)
    inp = keras.Input((16, 16, 3), name="image")
    keras.Model(inp, keras.layers.Conv2D(2, 3)(inp)).save(tmp_path / "k.keras")
    res = run_cli("convert", str(tmp_path / "k.keras"), "-o", str(tmp_path / "k.tflite"), "--quantize", "int8",
                  "--io-type", "uint8", "--representative-data", str(photos), "--image-norm", "0", "255", "-q")
    assert res.returncode == 0, res.stderr
    (scale, zero) = make_interpreter((tmp_path / "k.tflite").read_bytes()).get_input_details()[0]["quantization"]
    assert abs(scale - 1 / 255) < 1e-9 and zero == 0, (scale, zero)
