"""The AMOC model family: motion network, spatial networks, fusion, RNN accumulation."""

from amoc.models.amoc_net import AmocNet, AmocOutput
from amoc.models.build import build_model, count_parameters, gflops_per_pair
from amoc.models.config import DEFAULT_MOTION_WIDTH, PAPER_MOTION_WIDTH, ModelConfig
from amoc.models.fusion import FUSION_LAYERS, FUSION_METHODS, TwoStreamEncoder
from amoc.models.motion import MotionNet, MotionOutput
from amoc.models.preprocess import Preprocess, downsample_half, frame_pairs
from amoc.models.spatial import SpatialNet
from amoc.models.temporal import POOLINGS, RecurrentAccumulator

__all__ = [
    "DEFAULT_MOTION_WIDTH",
    "FUSION_LAYERS",
    "FUSION_METHODS",
    "PAPER_MOTION_WIDTH",
    "POOLINGS",
    "AmocNet",
    "AmocOutput",
    "ModelConfig",
    "MotionNet",
    "MotionOutput",
    "Preprocess",
    "RecurrentAccumulator",
    "SpatialNet",
    "TwoStreamEncoder",
    "build_model",
    "count_parameters",
    "downsample_half",
    "frame_pairs",
    "gflops_per_pair",
]
