"""runstack's web UI: one HTML page, plain JavaScript modules and styles, served by the server.

The server knows this package only through ``runstack.ui.routes.ui_routes``; the pages talk to
the server through its JSON API (``/api/2.0/runstack/ui/...`` and MLflow's endpoints), like any
other client. No build step: the files under ``static/`` are what the browser runs.
"""
