"""The AMOC model family: motion network, spatial networks, fusion, RNN accumulation.

Names load on first use (PEP 562), so ``amoc.models.config`` can be imported without torch: the
workflow validates model configs when it builds the DAG.
"""

from importlib import import_module

_SOURCES = {
    "AmocNet": "amoc_net", "AmocOutput": "amoc_net",
    "build_model": "build", "count_parameters": "build", "gflops_per_pair": "build",
    "DEFAULT_MOTION_WIDTH": "config", "PAPER_MOTION_WIDTH": "config", "ModelConfig": "config",
    "FUSION_LAYERS": "fusion", "FUSION_METHODS": "fusion", "TwoStreamEncoder": "fusion",
    "MotionNet": "motion", "MotionOutput": "motion",
    "Preprocess": "preprocess", "downsample_half": "preprocess", "frame_pairs": "preprocess",
    "SpatialNet": "spatial",
    "POOLINGS": "temporal", "RecurrentAccumulator": "temporal",
}
__all__ = [  # noqa: RUF022 (grouped as in _SOURCES)
    "AmocNet", "AmocOutput", "build_model", "count_parameters", "gflops_per_pair",
    "DEFAULT_MOTION_WIDTH", "PAPER_MOTION_WIDTH", "ModelConfig",
    "FUSION_LAYERS", "FUSION_METHODS", "TwoStreamEncoder", "MotionNet", "MotionOutput",
    "Preprocess", "downsample_half", "frame_pairs", "SpatialNet", "POOLINGS",
    "RecurrentAccumulator",
]


def __getattr__(name: str) -> object:
    if name not in _SOURCES:
        raise AttributeError(f"module 'amoc.models' has no attribute {name!r}")
    return getattr(import_module(f"amoc.models.{_SOURCES[name]}"), name)
