"""The model variants of Table I, as an explicit registry (torch-free: the workflow reads it).

* ``rcn``: the baseline (McLaughlin et al. 2016): one spatial stream on 5 channels, YUV of frame t
  plus 2 offline-flow channels, no fusion, stride-1 convolutions.
* ``amoc_nomotion``: "AMOC w/o Motion": the RGB stream only.
* ``amoc_offline``: "AMOC + LK-Flow/EpicFlow" (non-end-to-end): offline flow replaces the motion
  network and feeds the flow stream, fused with the RGB stream.
* ``amoc``: "end-to-end AMOC": motion network -> Pred3 -> flow stream, fused with the RGB stream.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VariantSpec:
    """How a variant gets motion and where it enters.

    Attributes:
        flow_source: "none", "offline" (``flow`` argument) or "motion_net" (learned, Pred3).
        two_stream: True: flow has its own stream, fused with RGB; False: flow channels (if
            any) are stacked onto the RGB input.
        spatial_stride: the spatial networks' conv stride unless the model config sets one.
        colour: the input colour space unless the model config sets one.
    """

    flow_source: str
    two_stream: bool
    spatial_stride: int
    colour: str

    @property
    def uses_flow(self) -> bool:
        """A flow method applies: an offline store, or the motion net's pre-training target."""
        return self.flow_source != "none"

    @property
    def reads_offline_flow(self) -> bool:
        """Training and evaluation read an offline flow store."""
        return self.flow_source == "offline"

    @property
    def has_motion_net(self) -> bool:
        """End-to-end: a motion net, initialised from a pre-trained one (Eq. 12-14)."""
        return self.flow_source == "motion_net"


# AMOC variants follow Sec. III-B2: "All the strides in the convolutional layers and pooling
# layers are set as 2" and "The inputs of the network ... are raw RGB images". The baseline
# follows McLaughlin et al.'s code: stride-1 convolutions on YUV frames.
AMOC_INPUT = {"spatial_stride": 2, "colour": "rgb"}
BASELINE_INPUT = {"spatial_stride": 1, "colour": "yuv"}
VARIANTS: dict[str, VariantSpec] = {
    "rcn": VariantSpec(flow_source="offline", two_stream=False, **BASELINE_INPUT),
    "amoc_nomotion": VariantSpec(flow_source="none", two_stream=False, **AMOC_INPUT),
    "amoc_offline": VariantSpec(flow_source="offline", two_stream=True, **AMOC_INPUT),
    "amoc": VariantSpec(flow_source="motion_net", two_stream=True, **AMOC_INPUT),
}
