"""The core: arrays in, arrays out.

Linear algebra (:mod:`.linalg`), the closed forms of every model
(:mod:`.closed_forms`), ranking (:mod:`.ranking`), the memory planner
(:mod:`.memory`), atomic writes and fits (:mod:`.atomic`) and input checks
(:mod:`.validation`).  Import rule: nothing here imports anything else of
the package; everything else may import from here.
"""
