"""The one way the service's front ends and tools reach Temporal.

:mod:`gateway.connection` connects (data converter, payload encryption, runtime);
:mod:`gateway.onboarding` and :mod:`gateway.holds` start the two workflows and call their updates
and queries by method reference; :mod:`gateway.errors` turns Temporal's errors into the service's
own, by type, so the API and the command line answer them the same way.
"""
