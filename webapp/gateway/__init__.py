"""The gateway (DESIGN.md §8): an OpenAI-compatible endpoint under ``/v1``, so programs
outside this process use the live models and the panel's keys through any OpenAI SDK.

- ``names``: the ``model`` names a program sends, and the ``/v1/models`` list;
- ``views``: the routes, authentication, the upstream call, the relay, metering;
- ``upstream``: the HTTP client for providers and the cancellation of calls whose client
  went away;
- ``errors``: OpenAI-shaped errors for every URL under ``/v1``.

Model and key are decided by ``webapp.ai.routing``, like every other AI call.
"""

from webapp.gateway.views import bp

__all__ = ["bp"]
