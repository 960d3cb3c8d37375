"""A simulated card issuer's world, for demos, tests and measuring the fraud engine.

The world: cardholders of varied ages and home countries (a dozen or so), each with one
or two cards in the currency of the card's BIN and habits of their own (how often and
when in their day they buy, night owls included; how much; their usual shops; how much
online), paid for by regular top-ups. Legitimate life holds what a single rule would call
suspicious: trips abroad, shopping sprees, big one-off purchases, first visits to new
shops, money sent home through a high-risk category, mistyped CVVs. Fraud comes as
attacks (demo/simulation/attacks.py): card testing, a lost or stolen card's burst, a
skimmed terminal whose cards are cloned a week later, card details used abroad, CVV
guessing, account takeover. Each authorization says how the card was read and its holder
verified (demo/simulation/authentication.py: chip, contactless, a stripe that a chip fell
back to or a skimmer copied, PINs right and wrong, 3-D Secure, the shopper's devices),
and what its person does when the issuer asks for the PIN (a step-up, 1A): the
cardholder inserts the card and types it, a thief guesses wrong or walks away.
Cardholders report fraud days after it (only what was
approved, only reports due by the world's end); the bank then blocks and replaces the card.

The API:

    world = plan_world(cardholders=100, days=30, seed=1, end=None)   # no database access
    result = replay_world(world, actor=Actor.system("..."))         # through the services
    for outcome in result.outcomes:   # one per authorization, in the order decided
        outcome.transaction_id, outcome.is_fraud, outcome.scenario, outcome.attack_id
        outcome.after_step_up   # made after a 1A, not in the plan

`plan_world` is deterministic: the same arguments (an explicit `end`) give an equal plan.
Only card numbers differ between replays, as the issuing service draws them from
`secrets`. `replay_world` takes `checkpoints`, (time, callback) pairs called once the
stream has reached each time: to train a model midway, say. manage.py simulate_traffic
and seed_demo are built on these two calls.
"""

from demo.simulation.attacks import SCENARIOS
from demo.simulation.replay import CannotReplay, Outcome, ReplayResult, replay_world
from demo.simulation.world import World, default_end, plan_world

__all__ = [
    "SCENARIOS",
    "CannotReplay",
    "Outcome",
    "ReplayResult",
    "World",
    "default_end",
    "plan_world",
    "replay_world",
]
