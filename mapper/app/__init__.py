"""The application: what users run.

``compiler`` (``compile_model`` and its result), ``report`` (the report
schema's writer and reader), ``report_view`` (the terminal views), ``atomic``
(whole-or-nothing file writes), ``cli`` and one module per command in
``commands``.  Sits on top of ``mapper.search``, ``mapper.chip`` and ``frontends``.
"""
