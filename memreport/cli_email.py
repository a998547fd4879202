"""`memreport email` and `memreport send` (issue 6). Registered on the app when imported."""
