"""The whole loop, headless and resumable: ``qconsole cycle PLAN.yaml`` (issue 11).

Per cycle: probe the current model, check which items it failed, build corrections (reference
worked solutions, teacher drafts or a human queue), train a fresh adapter from the base on
everything accumulated, evaluate it on fixed suites, record. Core only: no Textual; the
console's cycles screen reads the same ledger.

Modules, one job each:
- ``plan``: the plan file, validated, and its hash;
- ``ledger``: what each cycle did, written atomically after every step;
- ``context``: what the steps share; ``runner``: the steps in order, skipping finished ones;
- ``probe`` (probe + check), ``corrections``, ``train_eval`` (train + evaluate): the steps;
- ``growth``: the topic-by-cycle matrix, GEM metrics, failure kinds and seeds from the ledger;
- ``report`` + ``charts``: the growth report (Markdown, PNG, a text chart).
"""
