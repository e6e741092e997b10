"""The platform's AI calls: calls to the providers through the active model and the
right key (docs/CONTRACTS.md §2), the playground, test connection and model sync.

Import what you need from :mod:`webapp.ai.calls` (``chat``, ``generate_content``,
``generate_image``, ``get_client``); the seed's names live in ``chat_service``,
``content_generation_service`` and ``image_generation_service``.
"""
