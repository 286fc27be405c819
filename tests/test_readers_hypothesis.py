"""Every reader of a user's file, fed random and mutated content: only FlairErrors escape.

Whatever a file holds — random bytes, a valid file with bytes flipped or cut short, a
well-formed file whose values have the wrong types or ranges — a reader returns a value or
raises a :class:`~flair_hdbscan.errors.FlairError` (which the command line prints as one
line), never another exception and never a hang: each example runs under an alarm.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import zipfile
from datetime import date

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flair_hdbscan import discovery, sentinel
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import FlairError
from flair_hdbscan.geotiff import read_uint8_tif
from flair_hdbscan.modelfile import load_model, save_model
from flair_hdbscan.results import experiment_rows, load_results
from flair_tree import AREAS, PATCHES, make_tree, product_name, write_config, write_tif

#: Seconds one example may take before it counts as a hang.
ALARM = 10

SETTINGS = settings(
    max_examples=60,
    deadline=None,  # the alarm below bounds each example; timings vary on shared machines
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
    database=None,
)


@contextlib.contextmanager
def only_flair_errors():
    """Let a FlairError pass silently; anything else, or an example over ALARM s, fails."""

    def hang(signum, frame):
        raise TimeoutError(f"a reader ran for more than {ALARM} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(ALARM)
    try:
        yield
    except FlairError as exc:
        assert str(exc) and "\n" not in str(exc).strip(), repr(str(exc))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def flipped(data: bytes, positions: list[int], values: list[int]) -> bytes:
    """``data`` with the bytes at ``positions`` (taken modulo its length) replaced."""
    out = bytearray(data)
    for pos, value in zip(positions, values, strict=False):
        if out:
            out[pos % len(out)] = value
    return bytes(out)


def mutations(valid: bytes):
    """Random bytes, ``valid`` cut short, ``valid`` with bytes flipped, or ``valid`` grown."""
    cut = st.integers(0, len(valid)).map(lambda n: valid[:n])
    flips = st.tuples(
        st.lists(st.integers(0, 2**31), min_size=1, max_size=8),
        st.lists(st.integers(0, 255), min_size=1, max_size=8),
    ).map(lambda pv: flipped(valid, *pv))
    grown = st.binary(max_size=64).map(lambda tail: valid + tail)
    return st.one_of(st.binary(max_size=512), cut, flips, grown)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


def dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A one-patch tree written without the package."""
    return make_tree(
        tmp_path_factory.mktemp("hyp") / "tree", patches=(PATCHES[1],), areas=AREAS[:1]
    )


# -- Sentinel-2 products ------------------------------------------------------------------------


@SETTINGS
@given(name=st.text(max_size=40))
def test_product_date(name):
    with only_flair_errors():
        assert isinstance(sentinel.product_date(name), date)


@SETTINGS
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.lists(st.one_of(st.dates().map(product_name), st.text(max_size=40)), max_size=6).map(
            lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")
        ),
    )
)
def test_read_products(tmp_path_factory, content):
    path = tmp_path_factory.getbasetemp() / "products.txt"
    path.write_bytes(content)
    with only_flair_errors():
        dates = sentinel.read_products(path)
        assert all(isinstance(d, date) for d in dates)


# -- centroids --------------------------------------------------------------------------------


@SETTINGS
@given(
    content=st.one_of(
        st.binary(max_size=200),
        JSON.map(dumps),
        st.dictionaries(st.just(f"IMG_{PATCHES[1].patch_id}.tif"), JSON, min_size=1).map(dumps),
        st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(1, 9000).map(lambda n: b'{"IMG_000101.tif": [' + b"7" * n + b", 1]}"),
    )
)
def test_centroids(tree, content):
    original = tree.centroids.read_bytes()
    tree.centroids.write_bytes(content)
    try:
        with only_flair_errors():
            discovery._load_centroids(tree.centroids)
        with only_flair_errors():
            ds = FlairDataset.from_root(tree.root)
            row, col = ds.patches[0].centroid
            assert isinstance(row, int) and isinstance(col, int)
    finally:
        tree.centroids.write_bytes(original)


@SETTINGS
@given(value=JSON)
def test_centroid_values(tmp_path_factory, value):
    with only_flair_errors():
        row, col = discovery._centroid(value, "IMG_000101.tif", tmp_path_factory.getbasetemp())
        assert isinstance(row, int) and isinstance(col, int)


# -- Sentinel-2 .npy files ----------------------------------------------------------------------

DESCR = st.sampled_from(["<u2", "|u1", "<f4", "O", "<u2x", "V8", "<U3", "u2", "\x00"])
SHAPE = st.lists(st.integers(-(2**40), 2**40), max_size=5).map(tuple) | st.tuples(
    st.integers(0, 6), st.sampled_from([10, 2, 9]), st.integers(0, 60), st.integers(0, 60)
)


def _npy(header: str, payload: bytes) -> bytes:
    text = header.encode("latin1", "replace")[:60000]
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


HEADERS = st.one_of(
    st.builds(
        lambda d, f, s: f"{{'descr': {d!r}, 'fortran_order': {f}, 'shape': {s}, }}",
        DESCR,
        st.sampled_from(["False", "True", "0", "'no'"]),
        SHAPE,
    ),
    st.text(max_size=80),
    st.integers(1, 400).map(lambda n: "(" * n + ")" * n),
)


@SETTINGS
@given(
    kind=st.sampled_from(["data", "masks"]),
    content=st.one_of(
        st.builds(_npy, HEADERS, st.binary(max_size=4096)),
        st.binary(max_size=512),
        st.builds(lambda h, n: _npy(h, b"\0" * n), HEADERS, st.integers(0, 300_000)),
    ),
)
def test_npy_headers_through_read_sentinel(tree, kind, content):
    area = AREAS[0].name
    path = tree.sen_path(area, kind)
    original = path.read_bytes()
    path.write_bytes(content)
    try:
        with only_flair_errors():
            ds = FlairDataset.from_root(tree.root)
            patch = ds.read_sentinel(0, size=40)
            assert patch.data.shape[1:] == (10, 40, 40) and patch.data.dtype == np.uint16
    finally:
        path.write_bytes(original)


# -- GeoTIFFs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_tif(tmp_path_factory):
    path = tmp_path_factory.mktemp("tif") / "IMG_000001.tif"
    rng = np.random.default_rng(0)
    write_tif(path, rng.integers(0, 256, (5, 64, 64), dtype=np.uint8))
    return path.read_bytes()


@pytest.fixture(scope="module")
def huge_tif(tmp_path_factory):
    """A sparse GeoTIFF whose header claims 30,000 × 30,000 pixels (21 GB of 5 bands)."""
    import rasterio
    from affine import Affine

    path = tmp_path_factory.mktemp("tif") / "IMG_000003.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=30_000, height=30_000, count=5, dtype="uint8",
        tiled=True, compress="lzw", sparse_ok=True, crs="EPSG:2154",
        transform=Affine(0.2, 0, 650000, 0, -0.2, 6860000),
    ):  # fmt: skip
        pass
    return path.read_bytes()


@SETTINGS
@given(data=st.data(), count=st.sampled_from([1, 5]), header_only=st.booleans())
def test_read_uint8_tif(tmp_path_factory, valid_tif, huge_tif, data, count, header_only):
    content = data.draw(mutations(valid_tif) | st.just(huge_tif))
    path = tmp_path_factory.getbasetemp() / "IMG_000002.tif"
    path.write_bytes(content)
    with only_flair_errors():
        pixels, profile = read_uint8_tif(
            path, what="aerial image", count=count, indexes=[] if header_only else None
        )
        assert pixels.dtype == np.uint8
        assert pixels.shape[1:] == (profile["height"], profile["width"])


# -- YAML configs -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_config(tree):
    return write_config(tree, tree.root / "config" / "flair.yml").read_bytes()


YAML_TEXT = st.one_of(
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(1, 800).map(lambda n: b"[" * n + b"]" * n),
    st.dictionaries(
        st.sampled_from(["path_aerial_train", "path_sen_train", "path_labels_train",
                         "path_sp_centroids", "path_metadata_aerial", "other"]),
        JSON,
    ).map(lambda d: json.dumps({"data": d}).encode()),  # JSON is YAML
    st.just(b"a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\ndata: [*c, *c]\n"),
    st.just(b"data: !!python/object:os.system {}\n"),
)  # fmt: skip


@SETTINGS
@given(data=st.data(), split=st.sampled_from(["train", "test"]))
def test_split_from_config(tree, valid_config, data, split):
    content = data.draw(st.one_of(YAML_TEXT, mutations(valid_config)))
    path = tree.root / "config" / "fuzzed.yml"
    path.write_bytes(content)
    with only_flair_errors():
        paths = discovery.split_from_config(path, split)
        assert paths.aerial.is_dir() and paths.centroids.is_file()


# -- model files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_model(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "knn.model"
    save_model(path, fitted(("knn",))["knn"])
    return path.read_bytes()


def _members(content: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(content), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _archive(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _with_metadata(valid: bytes, change) -> bytes:
    arrays = _members(valid)
    meta = json.loads(str(arrays["metadata"]))
    change(meta)
    arrays["metadata"] = np.array(json.dumps(meta, allow_nan=True))
    return _archive(arrays)


def _set(path: tuple[str, ...], value):
    def change(meta):
        target = meta
        for key in path[:-1]:
            target = target.setdefault(key, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target[path[-1]] = value

    return change


META_PATHS = st.sampled_from([
    ("format",), ("format_version",), ("experiment",), ("method",), ("columns",),
    ("n_features",), ("options",), ("options", "seed"), ("options", "n_neighbors"),
    ("options", "backend"), ("record",), ("record", "n_train_pixels"),
    ("record", "diagnostics"), ("record", "diagnostics", "n_clusters"), ("provenance",),
    ("record", "train_split"), ("record", "seconds"),
])  # fmt: skip

ARRAY = st.builds(
    lambda dtype, shape, fill: np.full(shape, fill).astype(dtype),
    st.sampled_from(["uint8", "int64", "float32", "float64", "int8", "<U3", "bool"]),
    st.lists(st.integers(0, 4), max_size=3).map(tuple),
    st.integers(-300, 300),
)


@SETTINGS
@given(data=st.data())
def test_load_model(tmp_path_factory, valid_model, data):
    member = st.sampled_from(sorted(_members(valid_model)))
    content = data.draw(
        st.one_of(
            mutations(valid_model),
            st.builds(lambda p, v: _with_metadata(valid_model, _set(p, v)), META_PATHS, JSON),
            st.builds(
                lambda name, array: _archive({**_members(valid_model), name: array}),
                member | st.just("extra"),
                ARRAY,
            ),
            st.builds(
                lambda name: _archive(
                    {k: v for k, v in _members(valid_model).items() if k != name}
                ),
                member,
            ),
        )
    )
    path = tmp_path_factory.getbasetemp() / "fuzzed.model"
    path.write_bytes(content)
    with only_flair_errors():
        model = load_model(path)
        assert model.estimator is not None


def test_model_with_a_pickled_member_is_refused_without_unpickling(tmp_path, valid_model):
    arrays = _members(valid_model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w") as fh:
                np.lib.format.write_array(fh, array, allow_pickle=False)
        with archive.open("evil.npy", "w") as fh:
            np.lib.format.write_array(fh, np.array([object()], dtype=object), allow_pickle=True)
    path = tmp_path / "evil.model"
    path.write_bytes(buf.getvalue())
    with pytest.raises(FlairError, match="pickled"):
        load_model(path)


# -- results.json -----------------------------------------------------------------------------

EXPERIMENT = st.fixed_dictionaries(
    {
        "name": JSON | st.text(max_size=8),
        "method": JSON | st.sampled_from(["knn", "hdbscan"]),
        "confusion_matrix": JSON
        | st.lists(st.lists(st.integers(-5, 5), min_size=13, max_size=13), min_size=13,
                   max_size=13),
        "iou": JSON | st.lists(st.none() | st.floats(0, 1), min_size=13, max_size=13),
    },
    optional={"miou": JSON, "overall_accuracy": JSON, "seconds": JSON, "n_clusters": JSON},
)  # fmt: skip


@SETTINGS
@given(
    content=st.one_of(
        st.binary(max_size=200),
        JSON.map(dumps),
        st.lists(EXPERIMENT, max_size=3).map(lambda es: dumps({"experiments": es})),
        st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    )
)
def test_load_results(tmp_path_factory, content):
    path = tmp_path_factory.getbasetemp() / "results.json"
    path.write_bytes(content)
    with only_flair_errors():
        results = load_results(path)
        rows = experiment_rows(results)  # what the CSV, report, charts and tables read
        assert len(rows) == len(results["experiments"])


def test_a_valid_tree_reads(tree):
    """The unmutated files read (the properties above are not vacuous)."""
    ds = FlairDataset.from_root(tree.root)
    assert ds.read_sentinel(0, size=40).data.shape[1:] == (10, 40, 40)
