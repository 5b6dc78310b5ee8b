"""What the DLP engine looks for: recognizers, their validators, and person names.

- `policy_files`: loading Presidio YAML recognizer files (``policies/recognizers/``)
  and the Python recognizers they may name;
- `checksums`, `structure`: validators a pattern's match must pass (check
  digits, entropy, identifiers split or reversed to dodge a scanner);
- `person`, `person_evidence`, `name_shape`, `lexicon`: PERSON from spaCy's
  entities, name lexicons and cue words.

How to add a recognizer
-----------------------

1. A pattern recognizer needs no Python: add an entry to a file in
   ``policies/recognizers/`` (or a new file listed under ``engine.recognizers``
   in ``dlp.yaml``)::

       recognizers:
         - name: Employee badge numbers
           supported_entity: EMPLOYEE_BADGE
           patterns:
             - name: EB and six digits
               regex: '(?<![\\w-])EB-\\d{6}(?![\\w-])'
               score: 0.6
           context: [badge, employee]

   A pattern scoring below the policy's lowest threshold counts only next to a
   context word. Optional keys: ``validator`` (a name from
   ``checksums.VALIDATORS`` or ``structure.STRUCTURE_VALIDATORS``),
   ``negative_context``, ``message_context``, ``case_sensitive`` (see
   `policy_files`).
2. A check in Python: write ``def my_check(text: str) -> bool`` in `checksums`
   (or `structure`), register it in ``VALIDATORS`` (``STRUCTURE_VALIDATORS``)
   and name it as the entry's ``validator``.
3. Put the entity in scope: list it under ``entities:`` in ``dlp.yaml`` with its
   action (and in a group or route if needed), and add a policy test case under
   ``policies/tests/`` whose payload holds one and expects the action.
4. The pre-screen picks the new patterns up by itself (`engine.prescreen`).
   A recognizer that is not pattern based must declare a trigger there (a
   necessary condition in ``_TRIGGERS``); without one the screen is off.
5. Check: ``mas policy test``, ``mas dlp scan`` on sample data, and
   ``mas dlp evaluate`` for recall and precision on labelled messages.
"""
