"""The one place rule counts become Beam metrics."""

from __future__ import annotations

from collections import Counter

import apache_beam as beam
from apache_beam.metrics import Metrics


class CountingDoFn(beam.DoFn):
    """Rules count into ``self.counts`` (a plain Counter, TFDS's ``namespace/name`` keys); once
    per bundle the counts are published as Beam metrics: a metric update per page would cost
    more than most rules."""

    def start_bundle(self):
        self.counts = Counter()

    def finish_bundle(self):
        for name, value in self.counts.items():
            namespace, counter = name.split("/", 1)
            Metrics.counter(namespace, counter).inc(value)
        self.counts = Counter()
