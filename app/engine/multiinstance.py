"""Parallel multi-instance call activities (`camunda:collection`, `camunda:elementVariable`).

SpiffWorkflow's Camunda variant writes each finished instance's element variable back into
the collection and drops everything else the instance recorded. Camunda itself sets an
instance's variables (other than its element variable) in the enclosing scope, so the step
after the activity can route on how an instance ended (e.g. the `outcome` of the child's
cadence that ended the family's work, with a `completionCondition` cancelling the others).
"""
from __future__ import annotations

from SpiffWorkflow.camunda.parser.task_spec import CallActivityParser
from SpiffWorkflow.camunda.specs.multiinstance_task import ParallelMultiInstanceTask


class ScopedParallelMultiInstanceTask(ParallelMultiInstanceTask):
    """Camunda's scoping: a finished instance's variables reach the activity's data."""

    def merge_child(self, workflow, child):
        local = {ref.bpmn_id for ref in (self.data_output, self.output_item, self.data_input, self.input_item)
                 if ref is not None}
        child.parent.data.update({k: v for k, v in child.data.items() if k not in local})
        super().merge_child(workflow, child)


class PathwaysCallActivityParser(CallActivityParser):

    def _add_multiinstance_task(self, loop_characteristics):
        super()._add_multiinstance_task(loop_characteristics)
        if type(self.task) is ParallelMultiInstanceTask:
            # Same attributes, different merge: swapping the class keeps SpiffWorkflow's parsing.
            self.task.__class__ = ScopedParallelMultiInstanceTask
