"""How a build's shuffles move their data, chosen once per build (``spill_setup.build_memory``):
the runner's own GroupByKey (a cluster, or a local runner whose workers are other processes),
through files (``spill.py``: ``--spill-dir``, or a local build too large for memory), or by
reference within this process (``shuffle_in_process.py``: the default local runner). The
output is the same whichever it is."""

from __future__ import annotations

import dataclasses
from typing import Optional

import apache_beam as beam

from .shuffle_in_process import InProcessCoGroupByKey, InProcessGroupByKey, InProcessStore
from .spill import SpillConfig, SpilledCoGroupByKey, SpilledGroupByKey


@dataclasses.dataclass(frozen=True)
class Shuffle:
    """At most one of ``spill`` and ``in_process``; neither: the runner's own shuffle."""

    spill: Optional[SpillConfig] = None
    in_process: Optional[InProcessStore] = None

    def __post_init__(self):
        if self.spill is not None and self.in_process is not None:
            raise ValueError("a shuffle spills to files or stays in this process, not both")

    @property
    def by_reference(self) -> bool:
        """Whether values reach the consumer as the very objects the producer emitted (never
        encoded): a value need not be bytes."""
        return self.in_process is not None

    def group_by_key(self) -> beam.PTransform:
        if self.spill is not None:
            return SpilledGroupByKey(self.spill)
        return beam.GroupByKey() if self.in_process is None else InProcessGroupByKey(self.in_process)

    def co_group_by_key(self) -> beam.PTransform:
        if self.spill is not None:
            return SpilledCoGroupByKey(self.spill)
        return beam.CoGroupByKey() if self.in_process is None else InProcessCoGroupByKey(self.in_process)


RUNNERS_OWN = Shuffle()
