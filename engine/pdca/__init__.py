"""Service-quality cycles (服务质量 PDCA): series, cycles, their standard, and the process's service operations.

A community service (cleaning, elderly care visits, repairs, …) runs as a series of
plan-do-check-act cycles, driven by one instance of ``processes/pdca.bpmn``. The process decides
*when* (the service period ends at a timer, the rating window too, the act phase waits for its
tasks); this module decides *how*, through the operations its service tasks call:

* ``pdca.open_series`` — the committee's plan becomes a series, and its first cycle starts;
* ``pdca.plan_cycle`` — every later cycle starts with the series' standard carried over (the
  committee may have tightened it) and pins the newest version of the classifying DMN table;
* ``pdca.close_period`` — the service period ends and the rating window opens;
* ``pdca.check`` — indicators are computed from the cycle's rows (``engine.pdca.indicators``),
  classified by the pinned DMN table, stored, and those missed twice in a row are escalated;
* ``pdca.close_cycle`` — the cycle closes, and the series continues unless the committee ended it.

Records, measurements, ratings and requests are in ``engine.pdca.records``; corrective actions
in ``engine.pdca.actions``; the series report and its charts in ``engine.pdca.report``.
"""
