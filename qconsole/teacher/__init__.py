"""The teacher: an instruct model that steers the dialogue, names failures, drafts corrections
and multiplies them (issue 10). Core only: no Textual; the console and ``qconsole teacher``
both drive :class:`~qconsole.teacher.controller.TeacherController`.

Modules, one job each:
- ``config``: the ``[teacher]`` table; ``model``: the teacher as one call (local or served);
- ``scripts`` (+ ``scripts/*.yaml``): diagnostic dialogues; ``checks``: per-turn checks;
  ``play``: a script into both sides, proposing marks;
- ``instructions``: every text sent to the teacher and how its answers are read;
- ``draft``: LEMA corrections with provenance; ``variants`` + ``overlap``: more like this,
  filtered for near-duplicates and leakage; ``judge``: pairwise in both orders;
- ``controller``: those actions over a session store, for the UI and the CLI.
"""
