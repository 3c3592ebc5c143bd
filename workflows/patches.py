"""The ids of the workflows' patches (docs/versioning.md lists each with what it changed).

Asked once, at the top of ``run`` before its first ``await``: the answer decides the first
commands, and a handler that runs in the same first activation reads it from the workflow.
"""

LEAN_COMMANDS = "lean-commands"
"""Release 2: the same work in fewer commands. Deliveries (and the parcel–seller signals) are
tried once as local activities; a timer that would only move later is kept; a parcel started
with its seller's situation does not ask for it; a seller answers a parcel's registration only
when the parcel's view of it is out of date."""

INSTRUCTION_IN_HISTORY = "instruction-in-history"
"""The warehouse instruction is scheduled as a regular activity, never tried as a local one: its
action is then in history before the warehouse hears of it. A local attempt ran inside a workflow
task, and a task lost after the attempt could be run again on another path (the seller's clearance
arriving meanwhile) and record a different outcome than the one the warehouse was told. Asked at
the top of ``run`` like ``lean-commands``: a hold started before the change keeps the local attempt
to its end."""
