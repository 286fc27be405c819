"""Every option that shapes a result, declared once.

Each field of :class:`StudyOptions` carries, in its metadata, an :class:`Spec`: help text,
range or choices, and which experiments it shapes. From that one declaration come

* validation (:meth:`StudyOptions.__post_init__`, for the Python API),
* the command-line options with their ranges in ``--help``
  (:func:`flair_hdbscan.cli.options.study_options`),
* the options recorded per experiment in ``results.json`` (:meth:`StudyOptions.relevant`).

Defaults are the original notebook's values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from flair_hdbscan.budget_settings import (
    DEFAULT_BUDGET_HDBSCAN,
    DEFAULT_BUDGETS,
    check_budgets,
    parse_hdbscan_setting,
)
from flair_hdbscan.clustering import BACKENDS, DEFAULT_BACKEND, METHODS
from flair_hdbscan.errors import OptionError

__all__ = [
    "FEATURE_OPTIONS",
    "RESAMPLING",
    "BudgetOptions",
    "Spec",
    "StudyOptions",
    "check_budgets",
    "option_specs",
    "parse_hdbscan_setting",
]

#: Ways of putting the Sentinel-2 composite onto the aerial grid.
RESAMPLING: tuple[str, ...] = ("nearest", "bilinear")

#: Largest seed numpy's SeedSequence takes as one 32-bit word.
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Spec:
    """How one option is shown and checked.

    Attributes:
        help: one sentence for ``--help``.
        low: smallest allowed value (inclusive), or None.
        high: largest allowed value (inclusive), or None.
        choices: allowed values of a text option, or None.
        also: values allowed outside ``[low, high]`` (``-1`` for "all cores").
        scope: the experiments it shapes: ``"all"``, ``"naive"``, ``"model"`` (kNN and
            HDBSCAN), ``"hdbscan"`` or ``"satellite"``; ``"none"`` for options that never
            change a result (threads).
        flag: command-line name when it is not the field name with dashes.
        secondary: the ``--no-…`` form of a boolean flag.
    """

    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    also: tuple[int, ...] = ()
    scope: str = "all"
    flag: str | None = None
    secondary: str | None = None

    def range_text(self) -> str:
        """The allowed values as ``--help`` shows them (``1..512``, ``-1 or 1..``)."""
        if self.choices is not None:
            return "|".join(self.choices)
        if self.low is None and self.high is None:
            return ""
        low = "" if self.low is None else _number(self.low)
        high = "" if self.high is None else _number(self.high)
        text = f"{low}..{high}"
        return " or ".join([*(str(a) for a in self.also), text])

    def check(self, name: str, value: Any) -> None:
        """Raise :class:`OptionError` naming the flag when ``value`` is not allowed."""
        flag = "--" + (self.flag or name.replace("_", "-"))
        if value is None:
            return
        if self.choices is not None:
            if value not in self.choices:
                raise OptionError(
                    f"{flag} {value!r} is not one of {', '.join(self.choices)}: pick one of them"
                )
            return
        if isinstance(value, bool):
            return
        if value in self.also:
            return
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise OptionError(f"{flag} {value} is out of range: use {self.range_text()}")


def _number(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{value:g}"


def _opt(default: Any, help: str, **spec: Any) -> Any:
    return field(default=default, metadata={"spec": Spec(help, **spec)})


@dataclass(frozen=True)
class StudyOptions:
    """Every option of the study; defaults are the original notebook's values.

    Attributes:
        seed: seed of every random draw; each experiment's draws are seeded from this and
            the experiment's name, never from its position.
        stride: the training sample takes every ``stride``-th pixel along each axis (10: 1 %).
        max_train_pixels: cap of the training sample: each of the ``P`` patches keeps at
            most ``N // P`` of its labelled strided pixels (one more for the first
            ``N % P`` patches), drawn without replacement with a seed derived from the study
            seed and the patch id; None keeps every strided pixel. Labels read to draw them
            are still counted.
        keep_other: train on pixels of class "other" too (the notebook leaves them out,
            which reads their labels).
        n_neighbors: k of every kNN (trained on truth, and propagating clusters).
        min_cluster_size: HDBSCAN's smallest cluster.
        min_samples: HDBSCAN's core-distance neighbours, not counting the point itself (as
            hdbscan and fast_hdbscan count); None means ``min_cluster_size``.
        cluster_selection_method: ``"eom"`` or ``"leaf"``.
        backend: HDBSCAN implementation.
        s2_resampling: ``"nearest"`` or ``"bilinear"``.
        cloud_area_threshold: a Sentinel-2 date is dropped when this share of the super
            patch is snowy or cloudy (reference training code: 0.5).
        cloud_proba_threshold: snow/cloud probability counted as cover (reference: 60).
        sat_patch_size: Sentinel-2 super patch side, pixels.
        n_jobs: threads of kNN queries (-1: all cores); never changes a result.
    """

    seed: int = _opt(0, "Seed of every random draw.", low=0, high=MAX_SEED)
    stride: int = _opt(
        10, "Training sample: every N-th pixel along each axis (10 = 1 %).", low=1, high=512,
        scope="model",
    )  # fmt: skip
    max_train_pixels: int | None = _opt(
        None,
        "Cap the training sample at N pixels, an equal share drawn from each patch's strided "
        "pixels [default: no cap].",
        low=1,
        high=10**12,
        scope="model",
    )
    keep_other: bool = _opt(
        False,
        "Train on pixels of class 'other' too (the notebook leaves them out).",
        scope="model",
        secondary="no-keep-other",
    )
    n_neighbors: int = _opt(
        5, "k of every kNN (on truth, and propagating clusters).", low=1, high=1000,
        scope="model",
    )  # fmt: skip
    min_cluster_size: int = _opt(
        10, "HDBSCAN's smallest cluster.", low=2, high=1_000_000, scope="hdbscan"
    )
    min_samples: int | None = _opt(
        None,
        "HDBSCAN's core-distance neighbours, not counting the point itself "
        "[default: --min-cluster-size].",
        low=1,
        high=1000,
        scope="hdbscan",
    )
    cluster_selection_method: str = _opt(
        "eom", "HDBSCAN cluster selection.", choices=METHODS, scope="hdbscan"
    )
    backend: str = _opt(
        DEFAULT_BACKEND, "HDBSCAN implementation.", choices=BACKENDS, scope="hdbscan"
    )
    s2_resampling: str = _opt(
        "nearest",
        "Sentinel-2 composite onto the aerial 0.2 m grid.",
        choices=RESAMPLING,
        scope="satellite",
    )
    cloud_area_threshold: float = _opt(
        0.5,
        "Drop a Sentinel-2 date when snow+cloud cover reaches this share of the super patch.",
        low=0.001,
        high=1.0,
        scope="satellite",
    )
    cloud_proba_threshold: int = _opt(
        60, "Snow/cloud probability counted as cover.", low=0, high=100, scope="satellite"
    )
    sat_patch_size: int = _opt(
        40,
        "Sentinel-2 super patch side, pixels (at most the super area's side).",
        low=11,
        high=512,
        scope="satellite",
    )
    n_jobs: int = _opt(
        -1, "Threads of kNN queries (-1: all cores).", low=1, high=1024, also=(-1,),
        scope="none", flag="jobs",
    )  # fmt: skip

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            spec: Spec = f.metadata["spec"]
            _check_type(f.name, spec, value, f.default)
            spec.check(f.name, value)

    @property
    def effective_min_samples(self) -> int:
        """``min_samples`` as used (``min_cluster_size`` when unset)."""
        return self.min_cluster_size if self.min_samples is None else self.min_samples

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)

    def relevant(self, method: str, use_satellite: bool) -> dict[str, Any]:
        """The options that shape an experiment of ``method`` (``knn``, ``hdbscan``, naive).

        Threads (scope ``"none"``) are left out: they never change a result.
        """
        scopes = {"all"}
        if not method.startswith("naive"):
            scopes.add("model")
        if method == "hdbscan":
            scopes.add("hdbscan")
        if use_satellite:
            scopes.add("satellite")
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata["spec"].scope in scopes
        }
        if method == "hdbscan":
            out["min_samples"] = self.effective_min_samples
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StudyOptions:
        """Options from a JSON object; unknown keys are refused.

        Raises:
            OptionError: on an unknown key or a value of the wrong type or range.
        """
        if not isinstance(values, dict):
            raise OptionError(f"options must be a JSON object, got {type(values).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise OptionError(f"unknown option(s) {', '.join(unknown)}")
        return cls(**values)


def _check_type(name: str, spec: Spec, value: Any, default: Any) -> None:
    flag = "--" + (spec.flag or name.replace("_", "-"))
    if value is None and default is None:
        return
    kind = type(default) if default is not None else int
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        nouns = {bool: "true or false", int: "an integer", float: "a number"}
        noun = nouns.get(kind, f"a {kind.__name__}")
        raise OptionError(f"{flag} must be {noun}, got {value!r}")


def option_specs(cls: type = StudyOptions) -> list[tuple[str, Any, Spec]]:
    """``(name, default, spec)`` of every option of ``cls``, in declaration order."""
    return [(f.name, f.default, f.metadata["spec"]) for f in dataclasses.fields(cls)]


#: Feature options of the study, by the name the results use (``raw``, ``satellite-robust``).
FEATURE_OPTIONS: tuple[str, ...] = (
    "raw",
    "normalized",
    "normalized-no-intensity",
    "robust",
    "robust-normalized",
    "satellite",
    "satellite-normalized",
    "satellite-robust",
)


@dataclass(frozen=True)
class BudgetOptions:
    """Options of the label-budget study, declared once like :class:`StudyOptions`.

    Attributes:
        budgets: numbers of labelled pixels (integers ≥ 1) and/or ``"all"``.
        seeds: seeds per budget (mean ± std over them).
        features: the feature option of the study the methods work on.
        hdbscan: HDBSCAN settings, ``method:min_cluster_size:min_samples[:backend]``.
        kmeans_init: k-means initialisation, ``"random"`` or ``"k-means++"``.
    """

    budgets: tuple[int | str, ...] = _opt(
        DEFAULT_BUDGETS,
        "Label budgets, comma-separated numbers of labelled pixels and/or 'all'.",
        flag="budgets",
    )
    seeds: int = _opt(5, "Seeds per budget (curves give mean ± std).", low=1, high=100,
                      flag="budget-seeds")  # fmt: skip
    features: str = _opt(
        "raw", "Feature option the budget methods work on.", choices=FEATURE_OPTIONS,
        flag="budget-features",
    )  # fmt: skip
    hdbscan: tuple[str, ...] = _opt(
        DEFAULT_BUDGET_HDBSCAN,
        "HDBSCAN setting of the budget study, method:min_cluster_size:min_samples "
        "(repeat the option for several).",
        flag="budget-hdbscan",
    )
    kmeans_init: str = _opt(
        "random", "k-means initialisation of the budget study.", choices=("random", "k-means++"),
        flag="kmeans-init",
    )  # fmt: skip

    def __post_init__(self) -> None:
        object.__setattr__(self, "budgets", check_budgets(tuple(self.budgets)))
        object.__setattr__(self, "hdbscan", tuple(self.hdbscan))
        if not self.hdbscan:
            raise OptionError("--budget-hdbscan: give at least one setting, e.g. leaf:10:5")
        for text in self.hdbscan:
            parse_hdbscan_setting(text)
        for f in dataclasses.fields(self):
            spec: Spec = f.metadata["spec"]
            if not isinstance(f.default, tuple):
                _check_type(f.name, spec, getattr(self, f.name), f.default)
            if spec.choices or spec.low is not None:
                spec.check(f.name, getattr(self, f.name))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }
