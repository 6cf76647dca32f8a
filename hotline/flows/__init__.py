"""IVR flows as data: load and validate `ivr_flows/*.yaml`, and walk them."""

from .engine import Caller, Engine
from .loader import FlowError, load_flow, load_flows
from .model import Flow, FlowSet
from .steps import CallState, Next, Turn

__all__ = [
    "CallState",
    "Caller",
    "Engine",
    "Flow",
    "FlowError",
    "FlowSet",
    "Next",
    "Turn",
    "load_flow",
    "load_flows",
]
