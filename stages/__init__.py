"""The stage registry: the engine reaches stages only through this ordered list.

Stages never import each other; they meet through artifacts and records in the manifest.
"""
from .decode import DecodeStage
from .master import MasterStage
from .pick import PickStage
from .prompts import PromptsStage
from .render import RenderStage
from .sequence import SequenceStage

STAGES = [PromptsStage, RenderStage, DecodeStage, PickStage, SequenceStage, MasterStage]
