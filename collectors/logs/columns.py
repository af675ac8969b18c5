"""Formats with a column parser (``blocks.ColumnParser``); the others are read line by line."""

from __future__ import annotations

from collectors.logs import coredns, ingress_nginx, jsonl, nginx_combined, rgw
from collectors.logs.coredns_columns import read_coredns
from collectors.logs.jsonl_columns import read_jsonl
from collectors.logs.nginx_columns import read_ingress, read_timed
from collectors.logs.rgw_columns import read_rgw

__all__ = ["COLUMN_PARSERS"]

COLUMN_PARSERS = {ingress_nginx.NAME: read_ingress, nginx_combined.NAME: read_timed,
                  jsonl.NAME: read_jsonl, coredns.NAME: read_coredns,
                  rgw.NAME: read_rgw}
