"""Bad input, through the real command line: one error line naming the problem and the fix, a non-zero exit, no
traceback, no hang, nothing half-written, nothing written outside the requested place, and the input untouched.

One test per class of input (each stands for every file of its kind). Each snapshots the directory it works in
(paths, kinds, sizes and hashes) and checks it is as it was afterwards, except for what the command may write.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import zipfile
import zlib

import pytest
from conftest import ROOT, one_error_line, run_cli, save_two_signature_model

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import fuzz


def _unprivileged() -> list[str]:
    """A command prefix under which file permissions bite: as root (CI), drop the capabilities that bypass
    them (root ignores a file's mode otherwise); as anyone else, nothing."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def cli(*args: str, cwd: str | None = None, timeout: float = 120, perms: bool = False,
        env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd, timeout=timeout, env=env, prefix=_unprivileged() if perms else ())


def snapshot(root: os.PathLike) -> dict[str, tuple]:
    """Every entry below ``root``: kind, mode, size and content hash (links by their target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_size, hashlib.sha256(f.read()).hexdigest())
            else:
                out[rel] = ("other", stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode))
    return out


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    return fuzz.seed_models()


@pytest.fixture(scope="module")
def keras_files(keras, tmp_path_factory):
    d = tmp_path_factory.mktemp("keras_files")
    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, keras.layers.Dense(2, name="y")(inp))
    model.save(d / "cnn.keras")
    model.save(d / "cnn.h5")
    return d


def _model_t(data: bytes):
    from liteconvert.tflite.schema import fb

    return fb().ModelT.InitFromPackedBuf(data, 0)


def _pack(m) -> bytes:
    from liteconvert.tflite.writer import pack_model

    return pack_model(m)


# -- losing the user's data ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_output_that_is_the_input_is_refused(keras_files, tmp_path, ext):
    src = tmp_path / f"cnn{ext}"
    src.write_bytes((keras_files / f"cnn{ext}").read_bytes())
    os.symlink(src, tmp_path / "link.tflite")
    os.link(src, tmp_path / "hard.tflite")
    before = snapshot(tmp_path)
    for out in (src, tmp_path / "link.tflite", tmp_path / "hard.tflite", tmp_path / "." / f"cnn{ext}"):
        one_error_line(cli("convert", str(src), "-o", str(out)), 4, "is the input", "would destroy the input")
    assert snapshot(tmp_path) == before


def test_output_inside_the_savedmodel_is_refused(tf, tmp_path):
    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            return {"y": x * 2.0}

    sm = tmp_path / "sm"
    tf.saved_model.save(M(), str(sm))
    before = snapshot(tmp_path)
    for out in (sm / "saved_model.pb", sm / "model.tflite", sm / "variables" / "variables.index"):
        one_error_line(cli("convert", str(sm), "-o", str(out)), 4, "inside the input directory")
    one_error_line(cli("convert", str(sm), "-o", str(sm)), 4, "is a directory")
    assert snapshot(tmp_path) == before


def test_api_convert_refuses_its_input_as_output(keras_files, tmp_path):
    import liteconvert
    from liteconvert.errors import OutputError

    src = tmp_path / "cnn.keras"
    src.write_bytes((keras_files / "cnn.keras").read_bytes())
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="is the input"):
        liteconvert.convert(str(src), str(src))
    assert snapshot(tmp_path) == before


def test_written_output_has_ordinary_permissions(keras_files, tmp_path):
    out = tmp_path / "m.tflite"
    old = os.umask(0o022)
    try:
        res = cli("convert", str(keras_files / "cnn.keras"), "-o", str(out))
    finally:
        os.umask(old)
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # like open(), not mkstemp's 0600
    os.chmod(out, 0o640)
    assert cli("convert", str(keras_files / "cnn.keras"), "-o", str(out)).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # a replaced file keeps its mode


# -- files that cannot be read or written ----------------------------------------------------------------------------

def test_unreadable_input(seeds, tmp_path):
    d = str(tmp_path)
    model = os.path.join(d, "model.tflite")
    with open(model, "wb") as f:
        f.write(seeds["cnn_metadata"])
    os.chmod(model, 0)
    before = snapshot(tmp_path)
    for args in (["inspect", model], ["metadata", "show", model], ["metadata", "extract", model, "-d",
                                                                     os.path.join(d, "out")]):
        one_error_line(cli(*args, perms=True, cwd=d), 1, "permission denied", model)
    assert snapshot(tmp_path) == before


def test_read_only_output_directory(seeds, keras_files, tmp_path):
    model = str(tmp_path / "model.tflite")
    with open(model, "wb") as f:
        f.write(seeds["cnn_metadata"])
    ro = str(tmp_path / "ro")
    os.mkdir(ro)
    os.chmod(ro, 0o555)
    before = snapshot(tmp_path)
    one_error_line(cli("metadata", "remove", model, "-o", os.path.join(ro, "bare.tflite"), perms=True), 4,
                   "not writable")
    one_error_line(cli("metadata", "extract", model, "-d", os.path.join(ro, "files"), perms=True), 1,
                   "cannot create")
    one_error_line(cli("convert", str(keras_files / "cnn.keras"), "-o", os.path.join(ro, "x.tflite"), perms=True),
                   4, "not writable")
    assert snapshot(tmp_path) == before


def test_output_naming_a_directory_or_a_device(keras_files, seeds, tmp_path):
    (tmp_path / "outdir").mkdir()
    model = tmp_path / "model.tflite"
    model.write_bytes(seeds["cnn_metadata"])
    before = snapshot(tmp_path)
    one_error_line(cli("convert", str(keras_files / "cnn.keras"), "-o", str(tmp_path / "outdir")), 4,
                   "is a directory", "model.tflite")
    one_error_line(cli("convert", str(keras_files / "cnn.keras"), "-o", str(tmp_path / "new") + "/"), 4,
                   "names a directory")
    one_error_line(cli("metadata", "remove", str(model), "-o", "/dev/null"), 4, "is a device")
    one_error_line(cli("metadata", "set", str(model), "--labels", str(model), "-o", str(model)), 4, "is the input")
    assert snapshot(tmp_path) == before
    assert os.path.exists("/dev/null") and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_non_regular_inputs_are_refused_at_once(keras_files, seeds, tmp_path):
    fifo = tmp_path / "model.tflite"
    os.mkfifo(fifo)
    h5 = tmp_path / "model.h5"
    os.mkfifo(h5)
    good = tmp_path / "good.tflite"
    good.write_bytes(seeds["cnn_metadata"])
    before = snapshot(tmp_path)
    for args in (["inspect", str(fifo)], ["metadata", "show", str(fifo)], ["metadata", "remove", str(fifo), "-o",
                                                                          str(tmp_path / "x.tflite")],
                 ["metadata", "extract", str(fifo), "-d", str(tmp_path / "d")], ["convert", str(h5), "-o",
                                                                                 str(tmp_path / "x.tflite")],
                 ["metadata", "set", str(good), "--labels", str(fifo), "-o", str(tmp_path / "x.tflite")],
                 ["inspect", "/dev/zero"]):
        one_error_line(cli(*args, timeout=60), 1, "not a regular file")
    assert snapshot(tmp_path) == before


# -- damaged models -----------------------------------------------------------------------------------------------

def test_truncated_or_non_flatbuffer_models(seeds, tmp_path):
    data = seeds["cnn_metadata"]
    cases = {"truncated.tflite": data[: len(data) // 2], "tiny.tflite": data[:12], "text.tflite": b"TFL3" * 40,
             "zeros.tflite": bytes(64), "ident.tflite": b"\x10\x00\x00\x00TFL3" + bytes(4)}
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
    (tmp_path / "labels.txt").write_text("a\nb\n")
    before = snapshot(tmp_path)
    for name in cases:
        p = str(tmp_path / name)
        for args in (["inspect", p], ["metadata", "show", p], ["metadata", "set", p, "--labels",
                                                              str(tmp_path / "labels.txt"), "-o",
                                                              str(tmp_path / "o.tflite")],
                     ["metadata", "remove", p, "-o", str(tmp_path / "o.tflite")],
                     ["metadata", "extract", p, "-d", str(tmp_path / "d")]):
            one_error_line(cli(*args), 1, "not a")
    assert snapshot(tmp_path) == before


def _index_cases(data: bytes) -> dict[str, tuple[bytes, str]]:
    """Models whose indices point outside the vectors they index, each with what the error must name."""
    cases = {}

    def edit(name: str, fn, needle: str) -> None:
        m = _model_t(data)
        fn(m)
        cases[name] = (_pack(m), needle)

    edit("opcode", lambda m: setattr(m.subgraphs[0].operators[0], "opcodeIndex", 99), "operator code 99")
    def first(obj, attr: str, value: int) -> None:
        setattr(obj, attr, [value, *list(getattr(obj, attr))[1:]])

    edit("tensor", lambda m: first(m.subgraphs[0].operators[0], "inputs", 500), "tensor 500")
    edit("buffer", lambda m: setattr(m.subgraphs[0].tensors[1], "buffer", 10_000), "buffer 10000")
    edit("signature", lambda m: setattr(m.signatureDefs[0].inputs[0], "tensorIndex", 77), "tensor 77")
    edit("sig_subgraph", lambda m: setattr(m.signatureDefs[0], "subgraphIndex", 3), "subgraph 3")
    edit("sg_input", lambda m: first(m.subgraphs[0], "inputs", 1234), "1234")
    edit("metadata", lambda m: setattr(m.metadata[0], "buffer", 4321), "buffer 4321")
    edit("shape", lambda m: setattr(m.subgraphs[0].tensors[0], "shape", [2, -7]), "negative dimension")
    return cases


def test_indices_out_of_range_are_invalid_models(seeds, tmp_path):
    """What LiteRT would refuse, inspect reports as invalid (it used to print a normal report)."""
    from ai_edge_litert.interpreter import Interpreter

    for name, (raw, needle) in _index_cases(seeds["two_subgraphs"]).items():
        p = tmp_path / f"{name}.tflite"
        p.write_bytes(raw)
        line = one_error_line(cli("inspect", str(p)), 1, "not a valid .tflite model", needle)
        assert "Fix:" in line
        if name in ("opcode", "tensor", "buffer", "sg_input", "shape"):
            with pytest.raises(Exception):  # noqa: B017 - the runtime refuses it too (its own error types)
                Interpreter(model_content=raw).allocate_tensors()


# -- associated-file archives ----------------------------------------------------------------------------------------

def _with_zip(model: bytes, entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            info = zipfile.ZipInfo("placeholder")
            info.filename = name  # ZipInfo would clean the name; write it as a hostile tool would
            info.orig_filename = name
            zf.writestr(info, data)
    return model + buf.getvalue()


@pytest.mark.parametrize("names", [["", "ok.txt"], [".", "ok.txt"], ["dup.txt", "dup.txt"], ["a\0b.txt"],
                                   ["Case.txt", "case.txt"], ["a", "a/b.txt"], ["../up.txt"], ["/abs.txt"],
                                   ["c:/x.txt"], ["esc\x1b[2J.txt"]])
def test_hostile_member_names_extract_nothing(seeds, tmp_path, names):
    model = tmp_path / "m.tflite"
    model.write_bytes(_with_zip(seeds["flex_custom"], [(n, b"data\n") for n in names]))
    before = snapshot(tmp_path)
    one_error_line(cli("metadata", "extract", str(model), "-d", str(tmp_path / "out")), 1, "refusing to extract",
                   "nothing was written", *(["outside"] if names[0] in ("../up.txt", "/abs.txt", "c:/x.txt") else []))
    assert snapshot(tmp_path) == before
    res = cli("metadata", "show", str(model))  # showing them is fine, one line each, escaped
    assert res.returncode == 0 and res.stderr == "" and "\x1b" not in res.stdout, res


def test_extract_over_existing_files_and_symlinks(seeds, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(_with_zip(seeds["flex_custom"], [("labels.txt", b"a\nb\n"), ("vocab.txt", b"v\n")]))
    out = tmp_path / "out"
    out.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("keep me")
    os.symlink(secret, out / "labels.txt")
    before = snapshot(tmp_path)
    one_error_line(cli("metadata", "extract", str(model), "-d", str(out)), 1, "already exists (a symlink)",
                   "--overwrite")
    assert snapshot(tmp_path) == before
    # -d naming a file
    one_error_line(cli("metadata", "extract", str(model), "-d", str(secret)), 1, "is not a directory")
    assert snapshot(tmp_path) == before
    # --overwrite replaces the link itself, never the file it points to
    res = cli("metadata", "extract", str(model), "-d", str(out), "--overwrite", "-q")
    assert res.returncode == 0, res.stderr
    assert not (out / "labels.txt").is_symlink() and (out / "labels.txt").read_bytes() == b"a\nb\n"
    assert secret.read_text() == "keep me"


def test_extract_never_overwrites_the_model(seeds, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(_with_zip(seeds["flex_custom"], [("m.tflite", b"pwned")]))
    before = snapshot(tmp_path)
    one_error_line(cli("metadata", "extract", str(model), "-d", str(tmp_path), "--overwrite"), 1,
                   "overwrite the model itself")
    assert snapshot(tmp_path) == before


def _bomb(model: bytes, size: int, declared: int | None = None) -> bytes:
    """``model`` with one deflated member of ``size`` zero bytes (declaring ``declared`` bytes)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 24)
    parts, crc, left = [], 0, size
    while left:
        n = min(left, len(chunk))
        parts.append(comp.compress(chunk[:n]))
        crc = zlib.crc32(chunk[:n], crc)
        left -= n
    parts.append(comp.flush())
    body = b"".join(parts)
    declared = size if declared is None else declared
    name = b"bomb.txt"
    zip64 = declared >= 0xFFFFFFFF
    extra = (b"\x01\x00\x10\x00" + declared.to_bytes(8, "little") + len(body).to_bytes(8, "little")) if zip64 else b""
    sz, csz = (0xFFFFFFFF, 0xFFFFFFFF) if zip64 else (declared, len(body))
    base = len(model)
    local = (b"PK\x03\x04" + (45).to_bytes(2, "little") + b"\0\0" + (8).to_bytes(2, "little") + b"\0\0\0\0"
             + crc.to_bytes(4, "little") + csz.to_bytes(4, "little") + sz.to_bytes(4, "little")
             + len(name).to_bytes(2, "little") + len(extra).to_bytes(2, "little") + name + extra)
    central_extra = (b"\x01\x00\x18\x00" + declared.to_bytes(8, "little") + len(body).to_bytes(8, "little")
                     + base.to_bytes(8, "little")) if zip64 else b""
    off = 0xFFFFFFFF if zip64 else base
    central = (b"PK\x01\x02" + (45).to_bytes(2, "little") * 2 + b"\0\0" + (8).to_bytes(2, "little") + b"\0\0\0\0"
               + crc.to_bytes(4, "little") + csz.to_bytes(4, "little") + sz.to_bytes(4, "little")
               + len(name).to_bytes(2, "little") + len(central_extra).to_bytes(2, "little") + b"\0\0" * 3
               + b"\0\0\0\0" + off.to_bytes(4, "little") + name + central_extra)
    cd_start = base + len(local) + len(body)
    tail = b""
    if zip64:
        z64_end = cd_start + len(central)
        tail = (b"PK\x06\x06" + (44).to_bytes(8, "little") + (45).to_bytes(2, "little") * 2 + b"\0" * 8
                + (1).to_bytes(8, "little") * 2 + len(central).to_bytes(8, "little") + cd_start.to_bytes(8, "little")
                + b"PK\x06\x07" + b"\0\0\0\0" + z64_end.to_bytes(8, "little") + (1).to_bytes(4, "little"))
    end = (b"PK\x05\x06" + b"\0\0\0\0" + (1).to_bytes(2, "little") * 2 + len(central).to_bytes(4, "little")
           + (cd_start if not zip64 else 0xFFFFFFFF).to_bytes(4, "little") + b"\0\0")
    return model + local + body + central + tail + end


def test_zip_bomb_is_refused_before_inflating(seeds, tmp_path):
    model = tmp_path / "bomb.tflite"
    model.write_bytes(_bomb(seeds["flex_custom"], 1536 << 20))  # 1.5 GiB of zeros in about 1.5 MB
    assert model.stat().st_size < 4 << 20
    before = snapshot(tmp_path)
    one_error_line(cli("metadata", "extract", str(model), "-d", str(tmp_path / "out")), 1, "over the",
                   "--max-file-size", "nothing was written")
    assert snapshot(tmp_path) == before
    res = cli("metadata", "show", str(model), timeout=60)  # shows the declared size, inflates only a preview
    assert res.returncode == 0 and "1,610,612,736 bytes" in res.stdout, res


@pytest.mark.slow
def test_zip_bomb_of_4_gib(seeds, tmp_path):
    model = tmp_path / "bomb.tflite"
    model.write_bytes(_bomb(seeds["flex_custom"], 4 << 30))
    before = snapshot(tmp_path)
    one_error_line(cli("metadata", "extract", str(model), "-d", str(tmp_path / "out")), 1, "over the")
    one_error_line(cli("metadata", "extract", str(model), "-d", str(tmp_path / "out"), "--max-file-size", "8G"), 1,
                   "--max-total-size")
    assert snapshot(tmp_path) == before


def test_member_that_inflates_past_its_declared_size(seeds, tmp_path):
    """A header that lies (10 bytes declared, 64 MiB inflated): reading stops at 10 and the CRC fails."""
    model = tmp_path / "liar.tflite"
    model.write_bytes(_bomb(seeds["flex_custom"], 64 << 20, declared=10))
    before = snapshot(tmp_path)
    one_error_line(cli("metadata", "extract", str(model), "-d", str(tmp_path / "out")), 1, "damaged")
    assert snapshot(tmp_path) == before


def test_extract_caps_can_be_raised(seeds, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(_with_zip(seeds["flex_custom"], [("big.txt", b"x" * 3000)]))
    one_error_line(cli("metadata", "extract", str(model), "-d", str(tmp_path / "o"), "--max-file-size", "1K"), 1,
                   "over the 1,024-byte cap")
    assert not (tmp_path / "o").exists()
    res = cli("metadata", "extract", str(model), "-d", str(tmp_path / "o"), "--max-file-size", "4K", "-q")
    assert res.returncode == 0 and (tmp_path / "o" / "big.txt").stat().st_size == 3000, res.stderr
    one_error_line(cli("metadata", "extract", str(model), "-d", str(tmp_path / "p"), "--max-file-size", "lots"), 2,
                   "not a size")


# -- options that should be refused ------------------------------------------------------------------------------

def test_signature_key_options(tf, keras_files, tmp_path):
    sm = save_two_signature_model(tf, tmp_path / "sm")
    out = tmp_path / "o.tflite"
    one_error_line(cli("convert", str(sm), "-o", str(out), "--signature-keys", ""), 2, "names no signature")
    one_error_line(cli("convert", str(sm), "-o", str(out), "--signature-keys", ",,"), 2, "names no signature")
    one_error_line(cli("check", str(sm), "--signature-keys", ""), 2, "names no signature")
    assert not out.exists()
    from liteconvert.tflite.reader import read_model

    for keys in (["other,serving_default"], ["other", "serving_default"]):
        res = cli("convert", str(sm), "-o", str(out), "-q", "--signature-keys", *keys)
        assert res.returncode == 0, res.stderr
        assert sorted(s.key for s in read_model(out.read_bytes()).signatures) == ["other", "serving_default"]
    one_error_line(cli("convert", "-o", str(out), "--signature-keys", "other", str(sm)), 2,
                   "was read as a signature key", "put the model first")


def test_keras_model_file_flag_refuses_a_savedmodel(tf, keras_files, tmp_path):
    sm = tmp_path / "sm"
    sm.mkdir()
    out = tmp_path / "o.tflite"
    one_error_line(cli("--keras_model_file", str(sm), "--output_file", str(out)), 2, "is a directory",
                   "--saved_model_dir")
    one_error_line(cli("--saved_model_dir", str(keras_files / "cnn.keras"), "--output_file", str(out)), 2,
                   "is a file", "--keras_model_file")
    assert not out.exists()


# -- nothing in a model file is ever executed ---------------------------------------------------------------------

def test_lambda_bytecode_in_a_model_file_is_never_run(keras, tmp_path):
    marker = tmp_path / "pwned"
    where = str(marker)
    inp = keras.Input((3,), name="x")
    y = keras.layers.Lambda(lambda t: (__import__("pathlib").Path(where).write_text("x"), t)[1])(inp)
    model = keras.Model(inp, y)
    for ext in (".keras", ".h5"):
        model.save(tmp_path / f"lambda{ext}")
    if marker.exists():
        marker.unlink()  # saving traced the lambda in this process
    for ext in (".keras", ".h5"):
        one_error_line(cli("convert", str(tmp_path / f"lambda{ext}"), "-o", str(tmp_path / "o.tflite")), 1,
                       "holds Python code", "never runs code")
        one_error_line(cli("check", str(tmp_path / f"lambda{ext}")), 1, "holds Python code")
    assert not marker.exists()
    assert not (tmp_path / "o.tflite").exists()


# -- whatever goes wrong: one line ----------------------------------------------------------------------------------

def test_internal_error_is_one_line_and_debug_shows_the_traceback(seeds, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(seeds["cnn_metadata"])
    code = ("import sys, liteconvert.inspect as i\n"
            "def boom(*a, **k): raise ZeroDivisionError('division by zero')\n"
            "i.inspect_model = boom\n"
            "from liteconvert.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    env.pop("LITECONVERT_DEBUG", None)
    res = subprocess.run([sys.executable, "-c", code, "inspect", str(model)], capture_output=True, text=True,
                         env=env, timeout=120)
    one_error_line(res, 5, "internal error (ZeroDivisionError: division by zero)", "--debug")
    for extra, e in ((["--debug"], env), ([], {**env, "LITECONVERT_DEBUG": "1"})):
        res = subprocess.run([sys.executable, "-c", code, "inspect", str(model), *extra], capture_output=True,
                             text=True, env=e, timeout=120)
        assert res.returncode == 5 and "Traceback (most recent call last)" in res.stderr
        assert res.stderr.splitlines()[-1].startswith("liteconvert: error: internal error")


def test_closed_stdout_pipe_is_quiet(seeds, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(seeds["cnn_metadata"])
    cmd = f"{sys.executable} -m liteconvert inspect {model} | head -c 10 > /dev/null"
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env, timeout=120)
    assert res.stderr == "", res.stderr


def test_demo_output_errors_are_one_line(tmp_path):
    (tmp_path / "d").mkdir()
    one_error_line(cli("demo", "-o", str(tmp_path / "d")), 4, "is a directory")
    one_error_line(cli("demo", "-o", str(tmp_path / "missing" / "x.tflite")), 4, "does not exist")


def test_valid_inputs_still_work(seeds, tmp_path):
    """The hardening refuses only what is wrong: every seed model inspects, shows and extracts."""
    for name, data in seeds.items():
        for o in fuzz.check_file(data, work=str(tmp_path / name)):
            assert o.problem is None and o.code == 0, (name, o)
