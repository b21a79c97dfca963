"""Contracts shared by the operator, the gateway and the CRD: one place each.

The pydantic models here are the single source of truth; the CRD schema in
``crds/`` is generated from them (``python -m craftplane.contracts.crd``).
"""
