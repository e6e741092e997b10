"""The suite's scan for provider keys written out in full (every test's pages, answers and
log lines pass through it): it must find a key wherever a page could show one, and not
mistake a random or signed token that holds "sk-" by chance for one."""

from tests import support

KEY = "sk-lqAqZX_H8BGR7nzXP4A1UJlc"


def test_a_key_in_markup_json_or_a_log_line_is_found():
    texts = [
        f'<input value="{KEY}">',
        f'{{"api_key": "{KEY}"}}',
        f"calling openrouter with {KEY}",
        f"Authorization: Bearer {KEY}",
    ]
    assert support.plaintext_keys(texts) == [KEY] * 4


def test_sk_inside_a_random_or_signed_token_is_not_a_key():
    signed = f"IjRlZjM5YjE3NGMyMDEwNjA3ZTNkOGRmYjkxNjJmMjA0In0.Z2xp9A.{KEY}"  # a CSRF token
    texts = [
        f'<meta name="csrf-token" content="{signed}">',
        f"mcp_Q9x{KEY}",
        f"mcp_Q9x-{KEY}",
    ]
    assert support.plaintext_keys(texts) == []
