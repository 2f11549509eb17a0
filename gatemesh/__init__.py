"""gatemesh: resilience patterns at the API gateway and in the service mesh."""

from .compiled import activate

# First, before any module of the hot path is imported: serve it compiled when a build of these
# exact sources exists (gatemesh/compiled; pure Python otherwise, or with GATEMESH_COMPILED=0).
activate()
