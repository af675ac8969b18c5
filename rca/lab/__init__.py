"""The fault lab (``rca lab``): real faults on real components, diagnosed end to end.

See docs/lab.md. Modules: ``host`` (lock, namespaces, cleanup), ``service``/``stations``
(the app and its load), ``dns``, ``metrics``, ``nginx``, ``kube`` (API-shaped records),
``platform`` (the seed-000 platform), ``scenario``/``scenarios`` (what to break),
``run`` (one run and its grade), ``keep`` (scenario directories), ``command`` (the CLI).
"""
