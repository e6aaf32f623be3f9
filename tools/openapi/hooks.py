"""Schemathesis hooks for tools/check-openapi.sh.

Schemathesis learns ids from answers (a key list names the admin key) and
reuses them: it would soon revoke, delete or re-scope the one admin key the
run authenticates with, and every later request would get 401. Cases aimed
at that key are skipped; every other key it creates or finds is fair game.
"""

import os

import schemathesis

ADMIN_KEY_ID = os.environ["TBA_ADMIN_KEY_ID"]


@schemathesis.hook
def filter_path_parameters(ctx, path_parameters):
    return not path_parameters or path_parameters.get("id") != ADMIN_KEY_ID
