"""Split: a stable share of end users per arm, sticky per user; an explicit model bypasses
it; promoting an arm through the normal activation ends its share."""

from __future__ import annotations

from collections import Counter

from webapp.ai import policies
from webapp.ai.routing import plan_call
from webapp.operations import activation, routing
from webapp.operations.routing import Arm

HI = [{"role": "user", "content": "سلام"}]
USERS = 10_000


def test_a_ten_percent_arm_gets_ten_percent_of_users():
    arms = [Arm(model_id=2, percent=10), Arm(model_id=3, percent=25)]
    counts = Counter(
        policies.split_arm(arms, f"user:{n}", "openrouter", "chat") for n in range(USERS)
    )
    assert abs(counts[2] / USERS - 0.10) <= 0.01
    assert abs(counts[3] / USERS - 0.25) <= 0.015
    assert abs(counts[None] / USERS - 0.65) <= 0.015


def test_each_user_always_lands_on_the_same_arm():
    arms = [Arm(model_id=2, percent=10)]
    first = [policies.split_arm(arms, f"user:{n}", "openrouter", "chat") for n in range(2000)]
    again = [policies.split_arm(arms, f"user:{n}", "openrouter", "chat") for n in range(2000)]
    assert first == again


def test_plans_follow_the_split_and_explicit_bypasses_it(catalogue, provider):
    gpt, claude = catalogue["gpt"], catalogue["claude"]
    routing.set_routing(provider.id, "chat", [], [Arm(claude.id, 30)])
    plans = [plan_call("openrouter", "chat", sticky_key=f"user:{n}") for n in range(1000)]
    routes = Counter((p.route, p.model) for p in plans)
    assert set(routes) == {("live", gpt.model_id), ("split", claude.model_id)}
    assert 0.25 <= routes[("split", claude.model_id)] / 1000 <= 0.35
    explicit = plan_call("openrouter", "chat", model_name="gpt-4o", sticky_key="user:1")
    assert explicit.route == "explicit"


def test_the_gateway_sends_a_user_to_its_arm(sdk, catalogue, provider, fake_provider):
    claude = catalogue["claude"]
    routing.set_routing(provider.id, "chat", [], [Arm(claude.id, 50)])
    arms = [Arm(claude.id, 50)]
    in_arm = next(
        n for n in range(100) if policies.split_arm(arms, f"user:u{n}", "openrouter", "chat")
    )
    outside = next(
        n for n in range(100) if not policies.split_arm(arms, f"user:u{n}", "openrouter", "chat")
    )
    client = sdk()
    for _ in range(3):  # sticky
        raw = client.chat.completions.with_raw_response.create(
            model="openrouter", messages=HI, user=f"u{in_arm}"
        )
        assert raw.headers["X-Panel-Route"] == "split"
        assert raw.headers["X-Panel-Model"] == claude.model_id
    raw = client.chat.completions.with_raw_response.create(
        model="openrouter", messages=HI, user=f"u{outside}"
    )
    assert raw.headers["X-Panel-Route"] == "live"


def test_promoting_an_arm_makes_it_live_for_everyone(catalogue, provider):
    claude = catalogue["claude"]
    routing.set_routing(provider.id, "chat", [], [Arm(claude.id, 10)])
    activation.activate(claude.id, ["chat"])
    plans = {plan_call("openrouter", "chat", sticky_key=f"user:{n}").route for n in range(300)}
    assert plans == {"live"}
    assert routing.get_routing(provider.id, "chat").split == ()
