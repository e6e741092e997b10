"""Issue 7: no plaintext API key in any page, API answer or log line of the whole run.

Every key the suite stores looks like ``sk-…`` (see the factories and tests); a key is
only ever shown back as its hint (``…a1b2``). This test runs last (see conftest).
"""

from __future__ import annotations

import re

from tests.conftest import Leakage

# Not inside a longer token: a random API token (``mcp_…``, URL-safe base64) can contain
# "sk-" by chance, and that is not a provider key.
KEY = re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{8,}")


def test_no_plaintext_key_in_any_answer_or_log_line():
    assert Leakage.bodies, "the suite produced no responses to scan"
    leaks = [m.group(0) for body in Leakage.bodies for m in KEY.finditer(body)]
    leaks += [m.group(0) for line in Leakage.log_lines for m in KEY.finditer(line)]
    assert leaks == [], sorted(set(leaks))[:10]
