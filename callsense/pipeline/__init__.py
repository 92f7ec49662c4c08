"""The path of a call: ingest → fetch → transcribe → analyse → deliver, one module per stage.

Each stage's ``run(rt, ...)`` does its work idempotently (``stages.py``) and returns what comes next;
``tasks.py`` queues the stages as Procrastinate jobs, ``inline.py`` runs them one after another here.
"""
