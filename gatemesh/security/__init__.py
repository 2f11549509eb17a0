"""Trust: who may write to the control plane, and (later) workload identity and mTLS.

credentials.py  the run's secrets: the admin token (people, the CLI) and the key the
                per-instance bootstrap credentials are derived from (docs/security.md)
"""
