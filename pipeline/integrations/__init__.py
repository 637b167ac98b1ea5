"""Consentcrawl's opt-out decision where its users already are: datatrove pipelines and 🤗 datasets.

Both integrations wrap `OptOut` (pipeline/integrations/core.py), which builds the pipeline's own
stages (`RobotsFilter`, `SignalsFilter`) from the same snapshot, policy and as-of date as a
`consentcrawl run`, so a URL gets the same decision and the same evidence everywhere:

* `pipeline.integrations.datatrove.OptOutFilter`: a datatrove filter step (needs the `bench` extra);
* `pipeline.integrations.datasets.OptOutDecider`: a batched function for `Dataset.filter` / `map`.

See docs/integrations.md.
"""

from __future__ import annotations

from pipeline.integrations.core import COLUMNS, OptOut, OptOutResult

__all__ = ["COLUMNS", "OptOut", "OptOutResult"]
