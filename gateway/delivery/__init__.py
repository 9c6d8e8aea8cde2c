"""Signed, routed delivery of submissions between councils and departments (DESIGN.md §3).

:mod:`.services` holds the registry (services, routing rules, recipients' delivery settings)
and the life of a submission; :mod:`.envelope` the JOSE documents (envelope, receipt,
acknowledgement); :mod:`.webhooks` Standard Webhooks signing; :mod:`.worker` the push
delivery worker on :mod:`gateway.core.queue`; :mod:`.routes` the admin and submissions APIs.
"""
