"""The pure core: the domain, with no IO.

The caseload and its history (:mod:`.caseload`, :mod:`.history`), the clock catalogue
(:mod:`.catalogue`, read from ``clocks.yaml``), counting conventions and the calendar
(:mod:`.conventions`, :mod:`.calendar`), statuses, the one evaluator (:mod:`.evaluator`) and the
explanations derived from what it returns (:mod:`.explain`), the backlog (:mod:`.backlog`), alert
candidates (:mod:`.alerting`) and the figures every output counts with (:mod:`.figures`).

Nothing here imports prefect, sqlalchemy, sqlmodel, apprise or rich, or reads the clock: "today" is
always an ``as_of`` argument (``tests/test_core.py`` holds it to that). The store, importers,
exporters, notifier and flows are edges around it.
"""
