"""`memreport fleet`: many hosts in parallel (issue 5). Registered on the app when imported."""
