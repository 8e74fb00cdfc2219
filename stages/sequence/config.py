"""sequence: config slice. The running order itself is album.order (an album-wide choice);
this section has no fields of its own yet."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SequenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
