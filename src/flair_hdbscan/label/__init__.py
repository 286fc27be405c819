"""Label clusters, not pixels: a page that names clusters with key presses, and the maps.

For someone with imagery and NO ground truth: ``flair-hdbscan label`` clusters the 1 %
sample of a split without reading labels, serves a page on 127.0.0.1 that shows one
exemplar of each cluster at a time (largest first, the label-budget study's order), saves
every answer to ``mapping.json``, and ``flair-hdbscan predict --mapping`` writes the maps.

Modules, in dependency order:

- ``clusterer``: the clustering (HDBSCAN settings, k-means) and the order, as the budget
  study computes them (pure);
- ``pool``: the sample read without labels, with each pixel's place;
- ``session``: the log of answers, undo, renames → the cluster → class mapping (pure);
- ``store``: ``clustering.npz`` and ``mapping.json``;
- ``prepare``: the label folder: fit or resume;
- ``imagery``: crops (PNG) and spectra;
- ``service``: the page's actions and reads; ``app``: the ASGI app; ``server``: uvicorn on
  127.0.0.1;
- ``predictor``: a mapping as a model for :func:`flair_hdbscan.predict.predict_folder`;
- ``simulate``: a simulated annotator (truth through the HTTP API), for evaluation.
"""

from flair_hdbscan.label.clusterer import Clusterer, Clusters, fit_clusters, parse_clusterer
from flair_hdbscan.label.predictor import load_mapping_model
from flair_hdbscan.label.prepare import LabelData, open_label_folder
from flair_hdbscan.label.session import MIXED, SKIP, Session

__all__ = [
    "MIXED",
    "SKIP",
    "Clusterer",
    "Clusters",
    "LabelData",
    "Session",
    "fit_clusters",
    "load_mapping_model",
    "open_label_folder",
    "parse_clusterer",
]
