"""``AmocNet``: one clip in, one pooled feature out, for every variant of Table I (Fig. 1).

A clip of T frames gives T - 1 time steps, step t being the pair (frame t, frame t + 1): the RGB
stream sees frame t, the flow stream sees the flow t -> t + 1 (offline, or Pred3 of the motion
network). All CNNs run on the (B * (T - 1)) frames of a batch at once; only the RNN loops over
time. Siamese weight sharing (Fig. 1) is the caller's: run the same model on both sequences.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from amoc.errors import CheckpointError, ConfigError
from amoc.models.config import ModelConfig
from amoc.models.fusion import TwoStreamEncoder
from amoc.models.motion import MotionNet, MotionOutput
from amoc.models.preprocess import Preprocess, downsample_half, frame_pairs
from amoc.models.spatial import SPATIAL_INPUT_HW, SpatialNet
from amoc.models.temporal import POOLINGS, RecurrentAccumulator
from amoc.variants import VARIANTS

RGB_CHANNELS = 3
FLOW_CHANNELS = 2


class AmocOutput(NamedTuple):
    """Model output, the same in training and evaluation.

    Shape: features (B, D) pooled u (Eq. 6/7), compared by Euclidean distance;
    logits (B, num_classes) (Eq. 8, before softmax); step_features (B, T - 1, D) RNN outputs o(t).
    """

    features: torch.Tensor
    logits: torch.Tensor
    step_features: torch.Tensor


class AmocNet(nn.Module):
    """The AMOC model family, built from a validated ``ModelConfig``.

    Attributes:
        motion_net: MotionNet for the end-to-end variant, None otherwise.
        encoder: TwoStreamEncoder (two-stream variants) or SpatialNet (single stream).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.variant = cfg.variant
        spec = VARIANTS[cfg.variant]
        self.flow_source = spec.flow_source
        self.two_stream = spec.two_stream
        self.preprocess = Preprocess(cfg.colour)
        self.motion_net = MotionNet(cfg.motion_width) if spec.flow_source == "motion_net" else None
        common = {"filters": cfg.spatial_filters, "fc_dim": cfg.fc_dim, "dropout": cfg.dropout,
                  "stride": cfg.spatial_stride}
        if spec.two_stream:
            self.encoder: nn.Module = TwoStreamEncoder(
                RGB_CHANNELS, FLOW_CHANNELS, cfg.fusion, cfg.fusion_layer, **common
            )
            in_dim = self.encoder.out_dim
        else:
            extra = FLOW_CHANNELS if spec.flow_source == "offline" else 0
            self.encoder = SpatialNet(RGB_CHANNELS + extra, **common)
            in_dim = cfg.fc_dim
        self.rnn = RecurrentAccumulator(in_dim, cfg.embedding, cfg.recurrent_dropout,
                                       cfg.recurrence)
        self.pool = POOLINGS[cfg.pooling]
        self.classifier = nn.Linear(cfg.embedding, cfg.num_classes, bias=False)  # S of Eq. 8

    @classmethod
    def from_checkpoint(cls, payload: Mapping[str, Any], source: str = "checkpoint") -> AmocNet:
        """Rebuild a trained model from an "amoc-model" checkpoint payload, in eval mode.

        The payload carries its own ``model_config``, so no flags are needed (nanoGPT-style).

        Raises:
            CheckpointError: weights that do not fit the saved config (``source`` names the file).
        """
        model = cls(ModelConfig.from_dict(payload["model_config"]))
        try:
            model.load_state_dict(payload["model_state"])
        except RuntimeError as err:
            raise CheckpointError(
                f"{source}: weights do not match the saved model config: {err}") from err
        return model.eval()

    def forward(self, frames: torch.Tensor, flow: torch.Tensor | None = None) -> AmocOutput:
        """Encode a batch of clips.

        Args:
            frames: RGB float in [0, 1].
            flow: offline flow t -> t + 1 in pixels of the 64 x 32 grid (u, v); required by
                ``rcn`` and ``amoc_offline``, ignored by the others.

        Returns:
            AmocOutput.

        Shape:
            frames (B, T, 3, 128, 64) with T >= 2; flow (B, T - 1, 2, 64, 32).
        """
        b, t = frames.shape[:2]
        if t < 2:
            raise ValueError(f"a clip needs at least 2 frames (1 time step), got T={t}")
        x = self.preprocess(frames)  # (B, T, 3, 128, 64), RGB or YUV, standardised
        rgb = downsample_half(x[:, :-1]).flatten(0, 1)  # (B*(T-1), 3, 64, 32)
        motion = self._motion(x, flow)  # (B*(T-1), 2, 64, 32) or None
        if self.two_stream:
            f = self.encoder(rgb, motion)
        elif motion is not None:
            f = self.encoder(torch.cat([rgb, motion], dim=1))
        else:
            f = self.encoder(rgb)
        o = self.rnn(f.unflatten(0, (b, t - 1)))  # (B, T-1, D)
        u = self.pool(o)  # (B, D)
        return AmocOutput(features=u, logits=self.classifier(u), step_features=o)

    def predict_motion(self, frames: torch.Tensor) -> MotionOutput:
        """Motion-net predictions for every consecutive pair of a clip (for figures, checks).

        Shape:
            frames (B, T, 3, 128, 64) -> each prediction (B, T - 1, 2, h, w).
        """
        if self.motion_net is None:
            raise ConfigError(f"variant {self.variant!r} has no motion network; use 'amoc'")
        pairs = frame_pairs(self.preprocess(frames))  # (B, T-1, 6, 128, 64)
        out = self.motion_net(pairs.flatten(0, 1))
        return MotionOutput(*(p.unflatten(0, pairs.shape[:2]) for p in out))

    def _motion(self, x: torch.Tensor, flow: torch.Tensor | None) -> torch.Tensor | None:
        """Flow input of each step: Pred3, offline flow, or None (variant-dependent)."""
        b, t = x.shape[:2]
        if self.flow_source == "motion_net":
            return self.motion_net(frame_pairs(x).flatten(0, 1)).pred3
        if self.flow_source == "none":
            return None
        expected = (b, t - 1, FLOW_CHANNELS, *SPATIAL_INPUT_HW)
        if flow is None:
            raise ConfigError(
                f"variant {self.variant!r} needs offline flow of shape {expected} (B, T-1, 2, H, W):"
                " pass flow=... from the flow store, or use variant 'amoc' / 'amoc_nomotion'"
            )
        if tuple(flow.shape) != expected:
            raise ValueError(f"flow must have shape {expected}, got {tuple(flow.shape)}")
        return flow.flatten(0, 1).float()  # the flow store holds float16
