"""Offline optical flow: dense methods by name, the per-dataset flow store, colour coding.

`amoc.flow.methods` (FLOW_METHODS, compute_flow), `amoc.flow.store` (build_flow_store, CLI),
`amoc.flow.layout` (FlowStore), `amoc.flow.accuracy` (EPE/speed table), `amoc.flow.colorcode`.
"""

from amoc.flow.colorcode import flow_to_color
from amoc.flow.layout import FlowStore
from amoc.flow.methods import FLOW_METHODS, compute_flow

__all__ = ["FLOW_METHODS", "FlowStore", "compute_flow", "flow_to_color"]
